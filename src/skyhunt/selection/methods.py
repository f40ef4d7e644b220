"""The methods of the selection function (issue 16) and what their injection scores are."""

from skyhunt.catalogues.files import CATALOGUES

#: The catalogue finders with an injection completeness: every catalogue of the two finders and
#: their ensembles (docs/design.md "Selection function").
CATALOGUE_METHODS = CATALOGUES
#: Score of each catalogue method's entries (the catalogues' ``score``).
METHOD_SCORES = {
    "mf": "SNR",
    "detector": "heat-map probability",
    "ens_prod": "q_mf q_detector",
    "ens_learned": "learned-combination probability",
}
#: The cutout classifiers of Table 1 with an injection completeness -> their key in Table 1's
#: ``thresholds.json`` (:mod:`skyhunt.selection.cutout_finders`).
CUTOUT_METHODS = {"cnn": "cnn", "cut_and": "and", "cut_prod": "prod", "cut_learned": "learned"}
#: Every method with an injection completeness, in report order.
METHODS = (*CATALOGUE_METHODS, *CUTOUT_METHODS)
#: Score of each cutout method (the threshold it is compared with is Table 1's).
CUTOUT_SCORES = {
    "cnn": "probability (Platt-calibrated) of the holding cutout",
    "cut_and": "1 if the holding cutout passes EnsembleAND, else 0",
    "cut_prod": "q_cnn q_mf of the holding cutout",
    "cut_learned": "learned-ensemble probability of the holding cutout",
}
