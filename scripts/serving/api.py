"""The LitServe API of a run: requests checked in the HTTP process (schema.py), batched across clients, and
answered as make predict answers (the same predictor, thresholds, temperature, windows and columns).

No `from __future__ import annotations` here: LitServe reads decode_request's annotation (the request
schema) at run time to hand it to FastAPI, which validates the body before it is queued."""

import hmac
import os
from pathlib import Path
from typing import Any

import litserve as ls
from fastapi import Header, HTTPException

from scripts.serving.schema import PairRequest, SingleRequest

API_KEY_VARIABLE = "QUICKFIT_API_KEY"


class RunAPI(ls.LitAPI):
    """One run's model in an inference worker. Each request is a list of inputs; a batch is several
    requests, predicted as one list and split back."""

    def __init__(
        self,
        run_dir: Path,
        backend: str,
        threads: Any,
        max_batch_size: int,
        batch_timeout: float,
        spinning: bool = True,
    ):
        super().__init__(max_batch_size=max_batch_size, batch_timeout=batch_timeout)
        self.run_dir, self.backend, self.threads = Path(run_dir), backend, threads
        self.spinning = spinning

    def setup(self, device: str) -> None:
        from scripts.common import runs
        from scripts.model.prediction import output_columns
        from scripts.predict import choose_predictor

        self.predictor = choose_predictor(self.run_dir, self.backend, False, self.threads, self.spinning)
        self.columns = output_columns(self.predictor)
        self.delimiter = runs.saved_config(self.run_dir).get("label_delimiter", ",")

    def authorize(self, x_api_key: str = Header(default="", alias="X-API-Key")) -> None:
        """With QUICKFIT_API_KEY set, every endpoint asks for it in X-API-Key (compared in constant time)."""
        key = os.environ.get(API_KEY_VARIABLE, "")
        if key and not hmac.compare_digest(x_api_key.encode(), key.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header")

    def batch(self, inputs: list[list[Any]]) -> list[list[Any]]:
        return inputs

    def predict(self, requests: list[list[Any]]) -> list[list[dict[str, Any]]]:
        import pandas as pd

        from scripts.model.prediction import predict_frame

        flat = [row for request in requests for row in request]
        if self.predictor.pair:
            frame = pd.DataFrame({"text": [a for a, _ in flat], "text_b": [b for _, b in flat]})
            columns = ["text", "text_b"]
        else:
            frame, columns = pd.DataFrame({"text": flat}), ["text"]
        out, _ = predict_frame(self.predictor, frame, columns, self.delimiter)
        records = out[self.columns].to_dict("records")
        answers, start = [], 0
        for request in requests:
            answers.append(records[start : start + len(request)])
            start += len(request)
        return answers

    def unbatch(self, output: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        return output

    def encode_response(self, output: list[dict[str, Any]]) -> dict[str, Any]:
        return {"predictions": output}


class SingleTextAPI(RunAPI):
    def decode_request(self, request: SingleRequest) -> list[str]:
        return request.inputs()


class PairAPI(RunAPI):
    def decode_request(self, request: PairRequest) -> list[tuple[str, str]]:
        return request.inputs()
