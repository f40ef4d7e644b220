"""Training and validation patches for the detector, cut from the observed maps.

Patch centres (:func:`patch_centres`): per object of the split, ``per_object[class]`` centres at a
uniformly random offset of up to ``offset_arcmin`` in each tangent-plane axis, plus
``random_per_deg2`` uniformly random centres per square degree of the split's stripe, all
kept where the whole patch lies inside the footprint. Patches are extracted with the cutouts
code (:func:`skyhunt.cutouts.extract.extract_cutouts`, TAN, bilinear), so they are sampled
exactly as the cutouts and the inference tiles. The objects near each patch are kept in
fractional pixel coordinates; the targets of a batch (:mod:`skyhunt.detector.targets`) are
drawn after its flips and quarter turns, so the heat maps and offsets stay consistent with
the augmented images. Every training batch is a pure function of (seed, epoch), so a run
resumed from an epoch-end checkpoint draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset

from skyhunt.cnn.data import UniformSampler, dihedral, in_batches
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts
from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, fits_inside, tan_deproject, tan_project
from skyhunt.detector.objects import CLASSES, unit_vectors
from skyhunt.detector.targets import dihedral_coords, render_targets
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint


@dataclass
class Patches:
    """Patches and the objects on them.

    Attributes
    ----------
    images : ndarray, shape (N, bands, npix, npix), float32
        µK_CMB.
    objects : pandas.DataFrame
        ``patch``, ``y``, ``x`` (fractional pixel coordinates), ``cls`` (class index), one row
        per object and patch it reaches.
    """

    images: np.ndarray
    objects: pd.DataFrame

    def on_patch(self) -> list[np.ndarray]:
        """Row numbers of :attr:`objects` per patch."""
        order = np.argsort(self.objects["patch"].to_numpy(), kind="stable")
        counts = np.bincount(self.objects["patch"].to_numpy(), minlength=len(self.images))
        return np.split(order, np.cumsum(counts)[:-1])


def patch_centres(
    objects: pd.DataFrame,
    split: str,
    footprint: Footprint,
    geometry: CutoutGeometry,
    margin_arcmin: float,
    patches: dict,
    splits_of,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (degrees) of one split's patches: around its objects and at random positions.

    Parameters
    ----------
    objects : pandas.DataFrame
        Truth objects (``ra``, ``dec``, ``split``).
    split : str
        ``train`` or ``validation``.
    footprint : Footprint
    geometry : CutoutGeometry
        Patch size.
    margin_arcmin : float
        Every patch pixel stays this far inside the footprint (the interpolation reach).
    patches : dict
        Config ``detector.patches`` (``per_object``: patches per object of each class,
        ``offset_arcmin``, ``random_per_deg2``).
    splits_of : callable
        RA (degrees) -> split name (:func:`skyhunt.cutouts.layout.split_of` with the config's stripes).
    rng : numpy.random.Generator

    Returns
    -------
    ra, dec : ndarray
        Centres whose own split is ``split`` and whose patch fits inside the footprint.
    """
    own = objects[objects["split"] == split]
    k = own["class"].map(patches["per_object"]).to_numpy(np.int64)
    ra0 = np.repeat(own["ra"].to_numpy(), k)
    dec0 = np.repeat(own["dec"].to_numpy(), k)
    off = rng.uniform(-1.0, 1.0, size=(2, ra0.size)) * patches["offset_arcmin"] * ARCMIN
    ra_o, dec_o = tan_deproject(ra0, dec0, off[0], off[1]) if ra0.size else (ra0, dec0)
    n_random = rng.poisson(patches["random_per_deg2"] * footprint.area_deg2)
    ra_r, dec_r = footprint.sample_uniform(int(n_random), rng)
    ra, dec = np.concatenate([ra_o, ra_r]), np.concatenate([dec_o, dec_r])
    keep = (splits_of(ra) == split) & fits_inside(footprint, geometry, margin_arcmin, ra, dec)
    return ra[keep], dec[keep]


def cut_patches(
    interp: PatchInterpolator,
    maps: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    geometry: CutoutGeometry,
    objects: pd.DataFrame,
    reach_px: float,
    threads: int = 1,
) -> Patches:
    """Patches at the centres and the objects within ``reach_px`` pixels of each patch.

    ``objects`` needs ``ra``, ``dec`` and ``class``; the maps are (npix, bands) float32 µK_CMB.
    """
    images = extract_cutouts(interp, maps, ra, dec, geometry, threads=threads)
    n = geometry.npix
    c = (n - 1) / 2.0
    pixel = geometry.size_arcmin / n * ARCMIN
    obj_ra, obj_dec = objects["ra"].to_numpy(), objects["dec"].to_numpy()
    cls = pd.Categorical(objects["class"], categories=CLASSES).codes.astype(np.int64)
    # only objects within the patch's half-diagonal plus the reach can touch it
    radius = (np.sqrt(2.0) * n / 2.0 + reach_px) * pixel
    cos_max = np.cos(radius)
    v_obj = unit_vectors(obj_ra, obj_dec)
    v_cen = unit_vectors(ra, dec)
    rows = []
    for p in range(ra.size):
        near = np.flatnonzero(v_obj @ v_cen[p] >= cos_max)
        xi, eta = tan_project(ra[p], dec[p], obj_ra[near], obj_dec[near])
        y, x = c - eta / pixel, c - xi / pixel
        on = (y > -reach_px) & (y < n - 1 + reach_px) & (x > -reach_px) & (x < n - 1 + reach_px)
        rows.append(pd.DataFrame({"patch": p, "y": y[on], "x": x[on], "cls": cls[near][on]}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["patch", "y", "x", "cls"])
    return Patches(images, table.astype({"patch": np.int64, "cls": np.int64}))


class PatchBatches(Dataset):
    """Whole batches of patches with their targets: ``dataset[(rows, codes)]`` -> (x, heat, offset, peak).

    Parameters
    ----------
    patches : Patches
    sigma_px : ndarray, shape (n_classes,)
        Heat-map Gaussian width per class, pixels (one heat-map channel per entry).
    """

    def __init__(self, patches: Patches, sigma_px: np.ndarray):
        self.images = patches.images
        self.objects = patches.objects
        self.rows_of = patches.on_patch()
        self.sigma_px = np.asarray(sigma_px, float)

    def __getitem__(self, key):
        rows, codes = key
        x = self.images[rows]
        n = x.shape[-1]
        if codes is not None:
            x = dihedral(x, codes)
        heat, offset, peak = [], [], []
        y_all, x_all, c_all = (self.objects[k].to_numpy() for k in ("y", "x", "cls"))
        for i, p in enumerate(rows):
            sel = self.rows_of[p]
            yy, xx = y_all[sel], x_all[sel]
            if codes is not None:
                yy, xx = dihedral_coords(yy, xx, codes[i], n)
            h, o, m = render_targets(yy, xx, c_all[sel], self.sigma_px, n, len(self.sigma_px))
            heat.append(h)
            offset.append(o)
            peak.append(m)
        return tuple(
            torch.from_numpy(np.ascontiguousarray(np.stack(a) if isinstance(a, list) else a))
            for a in (x, heat, offset, peak)
        )


class PatchDataModule(L.LightningDataModule):
    """Training batches from the training patches, the fixed validation patches for monitoring.

    Parameters
    ----------
    train, validation : Patches
    sigma_px : ndarray
        Heat-map width per class, pixels.
    training : dict
        Config ``detector.training`` (``batch_size``, ``eval_every_steps``, ``augment``).
    seed : int
        Seed of the training batches.
    """

    def __init__(self, train: Patches, validation: Patches, sigma_px, training: dict, seed: int):
        super().__init__()
        if len(train.images) == 0 or len(validation.images) == 0:
            raise ValueError(
                f"the detector needs training and validation patches; got {len(train.images)} and "
                f"{len(validation.images)} (is the footprint larger than a patch?)"
            )
        self.train_set = PatchBatches(train, sigma_px)
        self.val_set = PatchBatches(validation, sigma_px)
        self.training, self.seed = training, seed

    def train_dataloader(self):
        t = self.training
        rows = np.arange(len(self.train_set.images))
        sampler = UniformSampler(rows, t["batch_size"], t["eval_every_steps"], self.seed, t["augment"])
        return DataLoader(self.train_set, batch_size=None, sampler=sampler)

    def val_dataloader(self):
        rows = np.arange(len(self.val_set.images))
        return DataLoader(
            self.val_set, batch_size=None, sampler=in_batches(rows, self.training["batch_size"])
        )


def patch_rng(seed: int, split: str) -> np.random.Generator:
    """The stream of a split's patch centres."""
    return component_rng(seed, f"detector_patches_{split}")
