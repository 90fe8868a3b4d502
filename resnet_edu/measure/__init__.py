"""Measurements of networks: each returns tidy rows (one dict per block, seed, point...) and leaves
the network as it found it.

    probes       one network at one point: weight gradients, forward statistics, shattered gradients
    trends       how a per-block quantity grows through depth (linear or geometric), per run
    gradients    ||dE/dx_l|| through depth at initialisation, relative to the output, over seeds
    variance     Var(x_l) through depth with BN, without normalisation, with SkipInit (De & Smith)
    gradflow     per-stage gradients recorded while `fit` trains; which stages get gradient
    identities   Identity Mappings' Eq. 4, 5 and 7, checked numerically
    depth_probe  the five BN/ReLU placements through hundreds of blocks at initialisation
    lesions      delete one block at test time (Veit et al. 2016)
    hessian      curvature from Hessian-vector products: top eigenvalue, both ends, trace
    landscape    filter-normalised directions and loss surfaces (Li et al. 2018)
    rescaling    the same function with rescaled weights: why directions are filter-normalised
    descent      one SGD step against its Taylor prediction eta ||g||^2
    walls        how high the loss rises one filter-norm away, along several directions per net
    convergence  gradient flow at initialisation against the steps to a loss; the step along training
    jacobians    the singular values of a deep linear stack's Jacobian, measured and predicted
"""

from . import (
    convergence,
    depth_probe,
    descent,
    gradflow,
    gradients,
    hessian,
    identities,
    jacobians,
    landscape,
    lesions,
    probes,
    rescaling,
    trends,
    variance,
    walls,
)

__all__ = [
    "convergence",
    "depth_probe",
    "descent",
    "gradflow",
    "gradients",
    "hessian",
    "identities",
    "jacobians",
    "landscape",
    "lesions",
    "probes",
    "rescaling",
    "trends",
    "variance",
    "walls",
]
