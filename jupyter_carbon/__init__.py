"""jupyter_carbon: energy and CO2e of notebook cells."""
