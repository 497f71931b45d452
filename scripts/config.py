"""The one file a user edits: what to train on, which model, and how.

Every key can also be overridden from the command line without editing this file:
    make train SET="num_train_epochs=3 learning_rate=3e-5"
Keys are unique across the dicts below, so an override names the key alone.
"auto" means quickfit chooses from the data and prints its reason.
"""

DATA = {
    # A preset name (sms_spam, sms_spam_uci, reuters_r8, goemotions), a path to a CSV/TSV/JSON/Parquet
    # file or a save_to_disk folder, or a Hugging Face dataset as hf:owner/name.
    "dataset": "sms_spam",
    # Hugging Face datasets only: the subset (config) and the revision (branch, tag or commit); auto: the
    # dataset's default subset and its main branch.
    "hf_config": "auto",
    "hf_revision": "auto",
    # Column holding the text; a list of columns is joined with newlines. "auto": guessed.
    "text_column": "auto",
    # Column holding the label; for multi-label a list of 0/1 columns also works. "auto": guessed.
    "label_column": "auto",
    # auto | binary | multiclass | multilabel
    "task": "auto",
    # Field separator: auto | "," | "\t" | ";" | "|"
    "separator": "auto",
    # File encoding: auto (utf-8, utf-8 with BOM, then cp1252/latin-1) or any Python codec name.
    "encoding": "auto",
    # Names for a file without a header row, e.g. ["label", "text"]; [] means the file has a header.
    "column_names": [],
    # Multi-label labels in one column are split on this ("joy,love").
    "label_delimiter": ",",
    # Binary: the class whose precision/recall/F1 are reported. "auto": the minority class.
    "positive_label": "auto",
}

MODEL = {
    # The architecture: auto (read from the model's config.json) or bert, distilbert, roberta, xlm-roberta,
    # electra, deberta-v2 (DeBERTa-v3), modernbert. Simple Transformers' spellings (debertav2, ...) work too.
    "model_type": "auto",
    # "packaged-minilm" (all-MiniLM-L6-v2 shipped on PyPI, works offline), a Hub id such as
    # "distilbert-base-uncased", or a local folder.
    "model_name": "packaged-minilm",
    # Refuse pickle-only weights (pytorch_model.bin) from a folder unless you trust it.
    "allow_pickle_weights": False,
}

ARGS = {
    # "auto" here means a recipe picks the value from the task and data size (printed with its reason).
    "num_train_epochs": "auto",
    "learning_rate": "auto",
    "train_batch_size": "auto",
    "eval_batch_size": 64,
    # "auto": the 99th percentile of the training texts' token lengths, rounded up to 8.
    "max_seq_length": "auto",
    "max_seq_length_cap": 256,
    # Texts longer than max_seq_length: "head" keeps the start, "tail" the end, "head+tail" a quarter of
    # the room for the start and the rest for the end; "auto": head+tail when over 5% of training texts
    # are cut, else head. On Reuters R8 head+tail did not beat head (bench/EXPERIMENTS.md), so head is
    # the default. make eval, predict, the app and the card's snippet cut the same way.
    "truncation": "head",
    "warmup_ratio": "auto",
    "weight_decay": 0.01,
    "gradient_accumulation_steps": 1,
    "max_grad_norm": 1.0,
    "manual_seed": 42,
    # Stop when the validation metric (minority F1 / macro-F1) has not improved for this many epochs.
    "use_early_stopping": True,
    "early_stopping_patience": 2,
    # Batch rows of similar length together (less padding, faster); "auto": on every run.
    "length_grouping": "auto",
    # With length grouping, each batch keeps its group's class mix (rows placed by their length quantile
    # within their class). "auto": on runs under 250 steps, where batches of one class cost minority F1;
    # from 250 steps grouping by length alone costs no quality and saves more padding (bench/GROUPING.md).
    "grouping_class_mix": "auto",
    # Run each training batch as sub-batches of similar length (one optimizer step, the same loss), so
    # short rows are not padded to the batch's longest. "auto": on when training on the CPU, where a pass
    # costs little against its tokens; off on a GPU (kernel launches per pass; not measured there).
    "sub_batches": "auto",
    # Mixed precision on a GPU: auto (bf16 where the card supports it, else fp16; fp32 on the CPU),
    # fp32, fp16 or bf16. Master weights always stay fp32.
    "precision": "auto",
    # Torch CPU threads; "auto": the number of physical cores.
    "threads": "auto",
    # Cap the training rows (a quick look at a big file); 0 = all rows.
    "max_train_rows": 0,
}

BALANCE = {
    # none | class_weight | oversample | undersample | pos_weight (multi-label) | auto
    "balance": "auto",
    # Resampling target: minority/majority ratio after resampling.
    "balance_ratio": 0.5,
    # Multi-label pos_weight = negatives/positives per label, capped here.
    "pos_weight_cap": 30.0,
}

SPLIT = {
    # Duplicates: exact (identical texts dropped before splitting; the copies of a text whose copies
    # disagree on the label all dropped), near (also: a validation or test text with a near-copy in
    # training - character 5-gram Jaccard >= 0.8 after normalising case, digits and punctuation - is
    # moved to training, or for a dataset's own split the training copy is dropped), none (keep all).
    # near is the default: on the default SMS run, exact left 21 of 454 test rows with a near-copy in
    # training and scored 1.0000 [1.0000, 1.0000]; see README "How sure the evaluation is".
    "dedupe": "near",
    # Used when the dataset has no split of its own.
    "validation_size": 0.1,
    "test_size": 0.1,
}

EVALUATION = {
    # Temperature scaling fitted on the validation split (one temperature, or one per label for
    # multi-label); predict, the app and the card's snippet apply it; thresholds are tuned after it.
    "calibrate": True,
    # Tune the binary decision threshold for F1 on the validation split (multi-label always tunes);
    # "auto": tune when validation holds at least 30 positives, so one or two texts cannot set it.
    "tune_binary_threshold": "auto",
}

OUTPUT = {
    "outputs_dir": "outputs",
    # Every run writes TensorBoard curves into its folder; also log to an experiment tracker:
    # none | wandb (needs a W&B key or WANDB_MODE=offline) | mlflow (needs `pip install mlflow`).
    "report_to": "none",
    # Run folder name; "auto": <dataset>_<date>_<time>.
    "run_name": "auto",
}

# make sweep: the search space, one entry per config key (edit freely; keys are config keys).
#   ("log", low, high): a float sampled log-uniformly   ("float", low, high): uniformly
#   ("int", low, high): a whole number                  ("choice", [a, b, ...]): one of the values
SEARCH = {
    # the learning rate matters most; fine-tuning rates live between 1e-5 and 2e-4
    "learning_rate": ("log", 1e-5, 2e-4),
    # more epochs help small data; early stopping keeps the best one anyway
    "num_train_epochs": ("int", 2, 5),
    "train_batch_size": ("choice", [16, 32]),
    # a short warm-up protects the pretrained weights from the first large steps
    "warmup_ratio": ("float", 0.0, 0.2),
    "weight_decay": ("float", 0.0, 0.1),
    # how to meet class imbalance (multi-label trials choose between pos_weight and none)
    "balance": ("choice", ["class_weight", "oversample", "none"]),
}

HUB = {
    # The licence shown on the model's Hub page (the packaged all-MiniLM-L6-v2 is apache-2.0).
    "license": "apache-2.0",
    # Also push the run's train/validation/test splits (off: the training data stays local).
    "push_training_data": False,
    # After a push, this many test rows must predict the same from the Hub copy as locally.
    "verify_rows": 32,
}
