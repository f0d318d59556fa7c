"""Non-neural reference estimators scored on the same windows as the models."""
