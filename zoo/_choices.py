"""The names zoo accepts for its closed choices, declared once for the library, the CLI and its help.

Kept free of torch (the CLI builds its help from these without importing it).
"""

OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta", "adagrad", "adamax")
MOMENTUM_FREE_OPTIMIZERS = ("adadelta", "adagrad")
SCHEDULERS = ("plateau", "step", "linear", "exponential", "cosine", "cyclic", "onecycle")
# Schedules that move the learning rate every batch; the others move it once per epoch.
PER_STEP_SCHEDULERS = ("linear", "cosine", "cyclic", "onecycle")
LOSSES = ("ce", "bce", "mse", "huber", "smooth_l1", "multilabel_soft_margin")

# Autocast precisions; "auto" lets zoo choose by device (bf16 where it is native, else fp32; fp16
# with a grad scaler on CUDA devices without bf16).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Devices by name: "auto" is CUDA when available, else the CPU; "cuda:N" picks one GPU.
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
# Test-time augmentation: "flip" averages the logits of each image and its mirror image;
# "flip_translate" (airbench94's, arXiv:2404.00498) averages that with the flip-averaged logits of
# the image shifted one pixel up-left and down-right (reflect-padded): six views per image.
TTA_MODES = ("none", "flip", "flip_translate")
# Training augmentation: how the random crop pads (black, or the image mirrored at its border), and
# whether each image's flip is drawn anew every epoch or alternates (airbench's: drawn once, then
# the opposite of the previous epoch's, so every two epochs show both views of each image).
PADDING_MODES = ("zeros", "reflect")
FLIP_MODES = ("random", "alternate")
