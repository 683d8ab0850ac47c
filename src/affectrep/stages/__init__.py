"""What the workflow's rules do, from files to files: one module per rules file
(`workflow/rules/<name>.smk` -> `affectrep.stages.<name>`), one function per rule, named as
the rule where it can be. A rule's script reads `snakemake.input`, `.params` and `.output` by
name and passes them on; the function reads only the paths its rule lists.

A stage module imports JAX only inside the functions that need it: a training script imports
its stage module and then configures JAX (`affectrep.device.configure_jax`) before anything
has loaded it. `affectrep.stages.classification` likewise imports matplotlib only in
`table2`, because the `functionals` rule's environment has neither JAX nor matplotlib.

Imports every layer below: data, models, train, protocol and use.
"""
