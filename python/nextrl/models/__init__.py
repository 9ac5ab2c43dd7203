"""World models: the RSSM (PlaNet / DreamerV3, `rssm`; vector observations through MLPs, channels-first images
through the small conv encoder / decoder of `conv`) and the variational world model (VAE encoder and decoder, a
Gaussian latent transition trained by the KL to the encoding of the real next observation, `vae_world_model`)."""
