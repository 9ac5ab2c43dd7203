"""World models: the RSSM (PlaNet / DreamerV3, `rssm`)."""
