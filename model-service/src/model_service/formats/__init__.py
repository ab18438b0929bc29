"""Request bodies beyond the own JSON form: MLflow's scoring protocol (JSON and CSV)."""
