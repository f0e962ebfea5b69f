"""pytest-scope: record every pytest test with sys.monitoring, replay the state at any step.

Importing this package is cheap on purpose: pytest loads the plugin in every run of every
project that installs it, and ``replay`` imports the format modules from here.
"""

__version__ = "0.1.0"
