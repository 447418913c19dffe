"""Host-independent pipeline: sequences, colour, prompts, propagation, mattes, EXR/Cryptomatte,
the job runner, the preview server and the Qt editor. Imports `rmpsam_model`, never a host."""

__version__ = "0.1.0"
