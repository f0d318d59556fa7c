"""s4d_forecast."""
