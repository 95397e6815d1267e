"""Time and size of a map quicklook: ``python scripts/bench_quicklook.py RASTER [BANDS]``.

BANDS are the raster's roles in file order (default B,G,R,NIR). Prints, for true and false
colour, the seconds, the image size in pixels, the embedded size (base64 MB) and the peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time

from gis.maps.quicklook import quicklook
from gis.raster import raster_source


def main(path: str, bands: str = "B,G,R,NIR") -> None:
    src = raster_source(path, bands=bands)
    for roles in (("R", "G", "B"), ("NIR", "R", "G")):
        start = time.perf_counter()
        look = quicklook(src, roles=roles)
        seconds = time.perf_counter() - start
        print(
            f"{','.join(roles)}: {seconds:.1f} s, {look.width} x {look.height} px, "
            f"{look.size_bytes / 1e6:.2f} MB, mask {'yes' if look.mask else 'no'}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main(*sys.argv[1:])
