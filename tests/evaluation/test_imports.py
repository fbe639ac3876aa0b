"""evaluation.analytic and evaluation.fd compute with NumPy/SciPy only and import cheaply."""

import subprocess
import sys


def test_reference_pricers_do_not_import_torch_numba_or_quantlib():
    code = (
        "import sys, evaluation.analytic, evaluation.fd; "
        "bad = [m for m in ('torch', 'numba', 'QuantLib', 'simulators') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
