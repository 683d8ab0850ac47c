"""Using a trained configuration without the workflow.

- `bundle`: the exported model bundle (`Bundle`: load, embed, predict) and how rule `export`
  writes one (`write_bundle`, the model card).
- `cli`: the `affectrep` command (`affectrep embed`, `affectrep predict`).

Imports data, models, train and protocol; the stages import it, never the other way round.
"""
