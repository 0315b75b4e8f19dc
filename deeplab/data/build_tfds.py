"""``python -m deeplab.data.build_tfds --manual_dir FOLDER --data_dir DIR``: cache a folder data
set as TFRecords, the same build as ``tfds build deeplab/data/tfds_folder.py`` without the tfds
CLI (whose start-up needs apache_beam in TFDS 4.9)."""

from __future__ import annotations

import argparse

from deeplab.log import parse_args


def main(argv=None) -> int:
    """Build the TFRecord cache of a folder data set and print its splits."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manual_dir", required=True, help="folder holding images/ and masks/")
    parser.add_argument("--data_dir", required=True, help="TFDS data directory to write")
    args = parse_args(parser, argv)
    from deeplab.data.tfds_folder import build_folder_dataset

    builder = build_folder_dataset(args.manual_dir, args.data_dir)
    for name, split in builder.info.splits.items():
        print(f"{name}: {split.num_examples} examples")
    print(f"built {builder.data_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
