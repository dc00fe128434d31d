"""Agents as modules of pure functions over pytrees (`init`, `act`, `update`, `make_train`)."""
