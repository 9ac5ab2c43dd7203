"""World models: the RSSM (PlaNet / DreamerV3, `rssm`) and the variational world model (VAE encoder and decoder, a
Gaussian latent transition trained by the KL to the encoding of the real next observation, `vae_world_model`)."""
