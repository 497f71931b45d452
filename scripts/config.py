"""The one file a user edits: what to train on, which model, and how.

Every key can also be overridden without editing this file:
    make train SET="num_train_epochs=3 learning_rate=3e-5"
    make train SET=@configs/multilabel.json          (a JSON object of keys, e.g. configs/*.json)
Keys are unique across the dicts below, so an override names the key alone. "auto" means quickfit
chooses from the data and prints its reason. Each key is explained, with the evidence behind its
default, in docs/config.md; the keys most users change come first, the engineering knobs last (ADVANCED).
"""

DATA = {
    # preset (sms_spam, sms_spam_uci, reuters_r8, goemotions), a CSV/TSV/JSON/Parquet path, or hf:owner/name
    "dataset": "sms_spam",
    # the text column, or two columns for a pair of texts (more are joined with newlines); auto: guessed
    # from common names, a pair found by name (question1/question2, premise/hypothesis, #1 String/#2 String)
    "text_column": "auto",
    # two text columns: auto or True encodes them as a pair (a cross-encoder); False joins them in one text
    "text_pair": "auto",
    # the label column, a list of 0/1 columns for multi-label, or of numeric columns for several targets
    "label_column": "auto",
    # auto | binary | multiclass | multilabel | regression (a score per text: numbers, not classes)
    "task": "auto",
    # binary: the class whose precision, recall and F1 are reported; auto: the minority class
    "positive_label": "auto",
    # multi-label labels in one cell are split on this ("joy,love")
    "label_delimiter": ",",
    # Hugging Face datasets: the subset and the revision; auto: the default subset, the main branch
    "hf_config": "auto",
    "hf_revision": "auto",
    # auto | "," | "\t" | ";" | "|"
    "separator": "auto",
    # auto (utf-8, then cp1252/latin-1, line by line) or any Python codec name
    "encoding": "auto",
    # names for a file without a header row, e.g. ["label", "text"]; []: the file has a header
    "column_names": [],
}

MODEL = {
    # packaged-minilm (all-MiniLM-L6-v2 from PyPI, offline), a Hub id, or a local folder
    "model_name": "packaged-minilm",
    # auto (from the model's config.json) | bert | distilbert | roberta | xlm-roberta | electra | deberta-v2
    # | modernbert
    "model_type": "auto",
}

ARGS = {
    # auto: a recipe chooses from the task and the data size, and says why
    "num_train_epochs": "auto",
    "learning_rate": "auto",
    "train_batch_size": "auto",
    # auto: the 99th percentile of the training texts' token lengths, rounded up to 8 (max_seq_length_cap)
    "max_seq_length": "auto",
    # texts longer than max_seq_length: chunks (read whole in overlapping windows, scores averaged) |
    # truncate (cut by `truncation`) | auto (chunks when > 30 % of training texts are longer)
    "long_texts": "auto",
    # how truncate cuts: head | tail | head+tail | auto (head+tail when > 5 % are cut)
    "truncation": "head",
    # keep the best epoch on validation; stop after this many epochs without a better one (auto: on,
    # off for small data, whose validation split is a handful of rows)
    "use_early_stopping": "auto",
    # how the epoch count is chosen: validation | kfold (cross-validation on train + validation, then
    # the model trained on all of them) | auto (kfold under 50 carved validation rows, or 5 a label)
    "model_selection": "auto",
    # start from the frozen probe: a layer appended that mean-pools the body, the head fitted as the probe
    # (auto: on for small data with a mean-pooled sentence-transformers BERT body such as the default)
    "probe_start": "auto",
    # k-fold runs: the frozen probe is one more candidate, shipped when its out-of-fold score is the best
    # (auto: where the body is a mean-pooled sentence-transformers BERT, as for probe_start)
    "probe_candidate": "auto",
    # pairs: also train on each pair swapped, for pairs whose order means nothing (question1 / question2,
    # not premise / hypothesis); auto: off (measured on MRPC: no gain for twice the training time)
    "swap_pairs": "auto",
    "early_stopping_patience": 2,
    "manual_seed": 42,
    "eval_batch_size": 64,
    "warmup_ratio": "auto",
    "weight_decay": 0.01,
    "gradient_accumulation_steps": 1,
    "max_grad_norm": 1.0,
}

BALANCE = {
    # none | class_weight | oversample | undersample | pos_weight (multi-label) | auto
    "balance": "auto",
    # resampling target: minority/majority ratio after resampling
    "balance_ratio": 0.5,
}

SPLIT = {
    # exact | near (near-copies of test/validation texts kept out of training) | none
    "dedupe": "near",
    # carved from the training rows when the dataset has no split of its own
    "validation_size": 0.1,
    "test_size": 0.1,
}

EVALUATION = {
    # the metric that chooses the epoch, leads the evaluation and compares with the references; auto: the
    # task's (binary: F1 of the positive class; multi-class, multi-label: macro-F1; regression: R²) or the
    # dataset's official one (GLUE: MCC for CoLA, Spearman for STS-B ...); or a metric name, e.g. accuracy
    "metric": "auto",
    # temperature scaling on validation, applied only where it lowers held-out log-loss
    "calibrate": True,
    # binary: tune the decision threshold on validation; auto: with at least 30 validation positives
    "tune_binary_threshold": "auto",
}

OUTPUT = {
    "outputs_dir": "outputs",
    # run folder name; auto: <dataset>_<date>_<time>
    "run_name": "auto",
    # beside TensorBoard: none | wandb | mlflow
    "report_to": "none",
}

HUB = {
    # the licence on the model's Hub page (the packaged all-MiniLM-L6-v2 is apache-2.0)
    "license": "apache-2.0",
    # also push the train/validation/test splits
    "push_training_data": False,
}

# make sweep: the search space, one entry per config key (edit freely; keys are config keys).
#   ("log", low, high): a float sampled log-uniformly   ("float", low, high): uniformly
#   ("int", low, high): a whole number                  ("choice", [a, b, ...]): one of the values
SEARCH = {
    "learning_rate": ("log", 1e-5, 2e-4),
    "num_train_epochs": ("int", 2, 5),
    "train_batch_size": ("choice", [16, 32]),
    "warmup_ratio": ("float", 0.0, 0.2),
    "weight_decay": ("float", 0.0, 0.1),
    # multi-label trials choose between pos_weight and none
    "balance": ("choice", ["class_weight", "oversample", "none"]),
}

ADVANCED = {
    # caps: the longest auto max_seq_length, multi-label pos_weight, training rows (0 = all)
    "max_seq_length_cap": 256,
    "pos_weight_cap": 30.0,
    "max_train_rows": 0,
    # long_texts=chunks: tokens a window shares with the next; auto: a quarter of its room for text
    "window_overlap": "auto",
    # batches of similar length; auto: on every run
    "length_grouping": "auto",
    # grouped batches keep their group's class mix; auto: on runs under 250 steps
    "grouping_class_mix": "auto",
    # a mixed-length batch as sub-batches of similar length (same loss, one step); auto: on the CPU
    "sub_batches": "auto",
    # auto (bf16 where the GPU has it, else fp16; fp32 on the CPU) | fp32 | fp16 | bf16
    "precision": "auto",
    # torch CPU threads; auto: the physical cores
    "threads": "auto",
    # load pickle-only weights (pytorch_model.bin) from a folder you trust
    "allow_pickle_weights": False,
    # after a push, this many test rows must predict the same from the Hub copy as locally
    "verify_rows": 32,
}
