#!/usr/bin/python3
# Independent checker for `plexus train --plot` pictures: the SVG must parse as XML
# (python's xml.etree) and hold polylines of numeric points.
"""Usage: check_plot.py FILE.svg

Prints one line per <polyline>: polyline <class> <data-key> <number of points>
<the y coordinates joined by ','>, then "ok <count>". Exits 1 when the file is no
SVG, a polyline has no data-key or a point that is not two finite numbers."""

import math
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def main(argv):
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 1
    try:
        root = ET.parse(argv[0]).getroot()
    except (OSError, ET.ParseError) as e:
        print("check_plot: ERROR %s: %s" % (argv[0], e), file=sys.stderr)
        return 1
    if root.tag != SVG + "svg":
        print("check_plot: ERROR %s: the root element is %s, not svg" % (argv[0], root.tag), file=sys.stderr)
        return 1
    n = 0
    for p in root.iter(SVG + "polyline"):
        key = p.get("data-key")
        ys = []
        for pt in (p.get("points") or "").split():
            try:
                x, y = (float(v) for v in pt.split(","))
            except ValueError:
                x = y = float("nan")
            if not (math.isfinite(x) and math.isfinite(y)):
                print("check_plot: ERROR %s: polyline %r has the point %r" % (argv[0], key, pt), file=sys.stderr)
                return 1
            ys.append(y)
        if not key:
            print("check_plot: ERROR %s: a polyline without data-key" % argv[0], file=sys.stderr)
            return 1
        print("polyline\t%s\t%s\t%d\t%s" % (p.get("class"), key, len(ys), ",".join(repr(y) for y in ys)))
        n += 1
    print("ok\t%d" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
