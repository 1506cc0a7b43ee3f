"""The GPU release job: train the large models on a GPU machine, bring their weights back, publish them.

Three steps, one per module (docs/gpu_release.md is the runbook):

- `job`: on the GPU machine, train each model of the priority order (`plan`) within a wall budget,
  measure it, and write float16/bfloat16/float32 safetensors shards, config.json, eval.json and
  metrics.csv into a work folder;
- `transport`: hand the finished files to an outbox folder within what one fetch from that machine
  may bring back (`Limits`);
- `collect`: back here, verify and reassemble the shards and export each model with `zoo.hub.export`,
  the code path of every other release.
"""
