"""Example third-party zoo plugin: Pre-activation ResNet-18 for CIFAR-10."""
