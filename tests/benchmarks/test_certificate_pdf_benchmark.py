"""``python -m benchmarks certificate_pdf`` times drawing the certificate signed and unsigned in the same run:
signing (PAdES, the time-stamp included) adds no more than half to drawing it."""

from benchmarks import certificate_pdf


def test_signing_adds_at_most_half_to_drawing_a_certificate():
    result = certificate_pdf.run()

    assert {"unsigned_median_s", "signed_median_s", "signing_overhead"} <= result.keys()
    assert result["signed_median_s"] > result["unsigned_median_s"] > 0
    assert result["signing_overhead"] <= 0.5, result
