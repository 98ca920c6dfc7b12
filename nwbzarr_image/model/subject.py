"""Subject: the animal or person recorded (``/general/subject``, ``core/nwb.file.yaml``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from nwbzarr_image.errors import ArgumentTypeError, SchemaError
from nwbzarr_image.model.core import Container, field
from nwbzarr_image.model.parse import parse_str

TEXT_FIELDS = ("age", "description", "genotype", "sex", "species", "subject_id", "weight", "strain")
AGE_REFERENCES = ("birth", "gestational")


class Subject(Container):
    """Information about the subject, as pynwb's ``Subject``.

    Parameters
    ----------
    age : str, optional
        ISO 8601 duration, e.g. 'P90D'.
    age__reference : {'birth', 'gestational'}
        What ``age`` counts from.
    description, genotype, sex, species, subject_id, weight, strain : str, optional
        Free text ('sex' is usually 'F', 'M', 'O' or 'U'; species a Latin binomial or NCBI taxonomy URI).
    date_of_birth : datetime, optional
        Date of birth, with a time zone.
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

    def __init__(self, age: str | None = None, age__reference: str = "birth", description: str | None = None,
                 genotype: str | None = None, sex: str | None = None, species: str | None = None,
                 subject_id: str | None = None, weight: str | None = None, date_of_birth: datetime | None = None,
                 strain: str | None = None) -> None:
        self._init_container("subject")
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
        self.date_of_birth = date_of_birth
        self._seal()
