"""Datasets of simulated training examples: Parquet parts, a manifest, a content hash.

A dataset lives in ``<root>/<name>-<hash12>/`` with ``part-NNNNN.parquet`` files and
``_manifest.json`` (which Arrow-based readers skip, so any of them can read the directory;
version-1 datasets with ``manifest.json`` are read and migrated); ``hash12`` comes from the
SHA-256 of the canonical JSON of what determines the numbers. Writes are atomic, reads are
verified, generation is chunked, resumable and can run on Dask. Stray files are refused by
readers and quarantined by ``generate``. See docs/datasets.md.
"""

from .catalog import DatasetInfo, gc, list_datasets
from .errors import DatasetError
from .generate import Progress, find_or_create, generate, plan_chunks
from .hashing import canonical_json, content_hash
from .layout import QUARANTINE
from .manifest import LEGACY_MANIFEST, MANIFEST, PartInfo, find_manifest, read_manifest
from .reader import Dataset, open_dataset
from .schema import SCHEMA_VERSION, arrow_schema, column_names
from .spec import DEFAULT_CHUNK_PATHS, DatasetSpec, from_dict
from .writer import private_work_dir, process_space, publish_dir, write_dataset

__all__ = [
    "DEFAULT_CHUNK_PATHS",
    "LEGACY_MANIFEST",
    "MANIFEST",
    "QUARANTINE",
    "SCHEMA_VERSION",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "DatasetSpec",
    "PartInfo",
    "Progress",
    "arrow_schema",
    "canonical_json",
    "column_names",
    "content_hash",
    "find_manifest",
    "find_or_create",
    "from_dict",
    "gc",
    "generate",
    "list_datasets",
    "open_dataset",
    "plan_chunks",
    "private_work_dir",
    "process_space",
    "publish_dir",
    "read_manifest",
    "write_dataset",
]
