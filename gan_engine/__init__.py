"""gan_engine: pure-PyTorch restoration of aged photographs (no Django import, ever)."""

__version__ = "0.1.0"
