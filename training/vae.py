"""Variational autoencoder over the standardised readings + derived features.

Trained on No Failure rows only; at inference the latent mean (no sampling) is decoded
and the mean squared error over the standardised inputs is the anomaly score.
tanh hidden layers keep reconstructions bounded, so readings far outside the training
envelope get a large error instead of being extrapolated linearly.
"""
import numpy as np
import torch
from torch import nn


class VAE(nn.Module):
    def __init__(self, mean, std, latent=4, hidden=(32, 16)):
        super().__init__()
        n = len(mean)
        # Standardisation lives inside the module so it is exported into the ONNX graph.
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        h1, h2 = hidden
        self.encoder = nn.Sequential(nn.Linear(n, h1), nn.Tanh(), nn.Linear(h1, h2), nn.Tanh())
        self.mu = nn.Linear(h2, latent)
        self.logvar = nn.Linear(h2, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, h2), nn.Tanh(), nn.Linear(h2, h1), nn.Tanh(),
                                     nn.Linear(h1, n))

    def standardise(self, x):
        return (x - self.mean) / self.std

    def loss(self, x, beta):
        z = self.standardise(x)
        h = self.encoder(z)
        mu, logvar = self.mu(h), self.logvar(h)
        sample = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = self.decoder(sample)
        rec = ((recon - z) ** 2).sum(dim=1).mean()
        kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)).mean()
        return rec + beta * kl

    def forward(self, x):
        """Deterministic score: decode the latent mean, MSE over standardised inputs -> [N]."""
        z = self.standardise(x)
        recon = self.decoder(self.mu(self.encoder(z)))
        return ((z - recon) ** 2).mean(dim=1)


def fit_vae(x_train, seed, epochs, beta=0.1, batch=128, lr=2e-3):
    """Fits a VAE on float32 [N, F] rows. Statistics come from x_train only."""
    torch.manual_seed(seed)
    x_train = np.asarray(x_train, dtype=np.float32)
    mean = x_train.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = x_train.std(axis=0, dtype=np.float64).astype(np.float32)
    model = VAE(mean, std)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    data = torch.from_numpy(x_train)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(data), generator=gen).split(batch):
            opt.zero_grad()
            model.loss(data[idx], beta).backward()
            opt.step()
        sched.step()
    model.eval()
    return model


def score(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(np.asarray(x, dtype=np.float32))).numpy()
