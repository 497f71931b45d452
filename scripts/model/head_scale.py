"""A regression is trained on standardised targets; its saved head is then given the data's scale, so the
plain transformers model outputs scores in the data's units with no quickfit code in between."""

from __future__ import annotations

from pathlib import Path


def fold_scale_into_head(model_dir: Path, scale: dict[str, list[float]]) -> None:
    """y = z * std + mean folded into the classifier's last linear layer (weight * std, bias * std + mean):
    the saved model gives the data's units with no quickfit code in between."""
    import torch
    from safetensors.torch import load_file, save_file

    path = model_dir / "model.safetensors"
    state = load_file(str(path))
    std = torch.tensor(scale["std"], dtype=torch.float32)
    mean = torch.tensor(scale["mean"], dtype=torch.float32)
    heads = [
        key[: -len(".weight")]
        for key, value in state.items()
        if key.startswith("classifier")
        and key.endswith(".weight")
        and value.dim() == 2
        and value.shape[0] == len(std)
        and f"{key[: -len('.weight')]}.bias" in state
    ]
    if not heads:
        raise RuntimeError(f"no output layer with {len(std)} outputs in {path}: cannot fold the target scale")
    head = sorted(heads)[-1]  # the last linear layer (RoBERTa's classifier.out_proj after its dense)
    state[f"{head}.weight"] = state[f"{head}.weight"].float() * std[:, None]
    state[f"{head}.bias"] = state[f"{head}.bias"].float() * std + mean
    save_file(state, str(path), metadata={"format": "pt"})
