"""Subject: the animal or person recorded (``/general/subject``, ``core/nwb.file.yaml``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from nwbzarr_image.errors import ArgumentTypeError, NWBRuleWarning, SchemaError, warn
from nwbzarr_image.model.core import Container, field
from nwbzarr_image.model.parse import parse_str

TEXT_FIELDS = ("age", "description", "genotype", "sex", "species", "subject_id", "weight", "strain")
AGE_REFERENCES = ("birth", "gestational")


class Subject(Container):
    """Information about the subject, as pynwb's ``Subject``.

    Parameters
    ----------
    age : str or timedelta, optional
        ISO 8601 duration, e.g. 'P90D'; a timedelta is kept as the duration pynwb (pandas) writes for it,
        e.g. ``timedelta(days=90, hours=3)`` -> 'P90DT3H0M0S'.
    age__reference : {'birth', 'gestational'}
        What ``age`` counts from. Read from a file before NWB 2.6, which stores none, it is None.
    description, genotype, sex, species, subject_id, strain : str, optional
        Free text ('sex' is usually 'F', 'M', 'O' or 'U'; species a Latin binomial or NCBI taxonomy URI).
    weight : str or float, optional
        Weight with its unit, e.g. '0.02 kg'; a number is taken in kilograms and kept as '<number> kg'.
    date_of_birth : datetime, optional
        Date of birth (a naive datetime gets the local time zone, with a warning).
    """

    neurodata_type = "Subject"
    age = field()
    age__reference = field()
    description = field()
    genotype = field()
    sex = field()
    species = field()
    subject_id = field()
    weight = field()
    strain = field()
    date_of_birth = field()

    def __init__(self, age: str | timedelta | None = None, age__reference: str = "birth",
                 description: str | None = None, genotype: str | None = None, sex: str | None = None,
                 species: str | None = None, subject_id: str | None = None, weight: float | str | None = None,
                 date_of_birth: datetime | None = None, strain: str | None = None) -> None:
        self._init_container("subject")
        if isinstance(age, timedelta):
            age = iso_duration(age)
        weight = _weight(self.where, weight)
        given: dict[str, Any] = {"age": age, "description": description, "genotype": genotype, "sex": sex,
                                 "species": species, "subject_id": subject_id, "weight": weight, "strain": strain}
        for key, value in given.items():
            setattr(self, key, parse_str(self.where, key, value))
        if age__reference not in AGE_REFERENCES:
            raise SchemaError(f"{self.where}: 'age__reference' must be one of {list(AGE_REFERENCES)}; got "
                              f"{age__reference!r}.")
        self.age__reference = age__reference
        if date_of_birth is not None and not isinstance(date_of_birth, datetime):
            raise ArgumentTypeError(f"{self.where}: 'date_of_birth' must be a datetime; got "
                                    f"{type(date_of_birth).__name__}.")
        if date_of_birth is not None and date_of_birth.tzinfo is None:
            warn(NWBRuleWarning(f"{self.where}: 'date_of_birth' has no time zone; the local time zone is assumed. "
                                "Pass a datetime with tzinfo."))
            date_of_birth = date_of_birth.astimezone()
        self.date_of_birth = date_of_birth
        self._seal()


def iso_duration(age: timedelta) -> str:
    """The ISO 8601 duration pynwb stores for a timedelta (``pandas.Timedelta.isoformat``): 'P{d}DT{h}H{m}M{s}S',
    the seconds with their fraction and without trailing zeros."""
    days, rest = age.days, age.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{seconds}.{age.microseconds:06d}000".rstrip("0").rstrip(".")
    return f"P{days}DT{hours}H{minutes}M{text}S"


def _weight(where: str, weight: Any) -> Any:
    """A number becomes '<number> kg' (pynwb: ``str(weight) + ' kg'``); text is kept."""
    if isinstance(weight, (bool, np.bool_)):
        raise ArgumentTypeError(f"{where}: 'weight' must be a str or a float; got bool {weight!r}. Pass e.g. "
                                "weight=0.02 (kg) or weight='20 g'.")
    if isinstance(weight, (float, np.floating)):
        return f"{float(weight)} kg" if not isinstance(weight, float) else f"{weight} kg"
    if isinstance(weight, (int, np.integer)):
        return f"{float(weight)} kg"
    return weight
