"""The optimizer, scheduler and loss names training accepts (kept free of torch for the CLI's help)."""

OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta", "adagrad", "adamax")
MOMENTUM_FREE_OPTIMIZERS = ("adadelta", "adagrad")
SCHEDULERS = ("plateau", "step", "linear", "exponential", "cosine", "cyclic", "onecycle")
# Schedules that move the learning rate every batch; the others move it once per epoch.
PER_STEP_SCHEDULERS = ("linear", "cosine", "cyclic", "onecycle")
LOSSES = ("ce", "bce", "mse", "huber", "smooth_l1", "multilabel_soft_margin")
# Autocast precisions; "auto" lets zoo.train.runtime choose by device.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
