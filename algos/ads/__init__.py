"""ADS (Liu et al., ICLR 2024): imitation from observation with an optimal-transport proxy
reward and Automatic Discount Scheduling. `ot_reward` (the proxy reward), `progress` (the
progress recogniser and the discount schedule)."""
