"""Where else a job's results go besides kat's store (OpenKAT's Octopoes)."""
