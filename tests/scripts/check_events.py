#!/usr/bin/python3
# Independent checker for TensorBoard event files written by Plexus: verifies the TFRecord
# framing and masked CRC-32Cs itself, parses payloads with Google's protobuf library.
"""Usage: check_events.py [--buckets] [--pixels] EVENTS_FILE
       check_events.py --projector LOG_DIR

Checks, per record: 8-byte length, masked CRC-32C of the length, payload, masked
CRC-32C of the payload (CRC computed here, not by the C code under test); then that the
payload parses as tensorboard.Event (tests/tools/tensorboard_event.proto, compiled with
protoc at run time) and, walking the raw wire format against the same descriptors, that
it holds only known fields with the right wire types, minimal varints and no repeated
singular fields. Semantic checks: the first event is file_version "brain.Event:2";
scalars are rank-0 DT_FLOAT tensors of the "scalars" plugin (or simple_value);
histograms have matching, increasing bucket arrays whose counts add up to num and agree
with min/max; TF2 "histograms" tensors are [k, 3] float64/float32 rows of left edge,
right edge, count with left < right, edges increasing from row to row and whole counts;
"images" tensors are DT_STRING [2 + n] of width, height and n PNGs, each decoded by
Pillow (a real decoder) to that size; a "graph_keras_model" value is a DT_STRING scalar
of model-config JSON (content "1"); Event.graph_def parses as a GraphDef whose nodes
have unique names, an op, and inputs naming nodes of the graph. When the python
tensorboard module is importable, the file's directory is also loaded with its
EventAccumulator and must show the same tags (skipped when absent).
With --projector: LOG_DIR/projector_config.pbtxt parses (protobuf text format) as a
ProjectorConfig whose every embedding's tensor_path is a TSV of tensor_shape numbers.

Prints one tab-separated line per event:
  file_version <wall_time> <version>
  scalar <step> <tag> <value>
  histogram <step> <tag> min=<> max=<> num=<> sum=<> sum_squares=<> buckets=<k>
  bucket <limit> <count>            (after each histogram, with --buckets)
  histogram <step> <tag> min=<first left edge> max=<last right edge> num=<sum of counts> buckets=<k>
  image <step> <tag> <width> <height> <n> <mode>
  pixels <index> <hex of the decoded 8-bit pixels>   (after each image, with --pixels)
  keras_model <step> <tag> <class_name> <layer count>
  graph <node count>
  node <name> <op> <inputs joined by ','>
  embedding <tensor_name> <rows> <cols> <sum of values>   (--projector)
  ok <records>
Floats are printed with repr(), which round-trips exactly. Exits 1 on any mismatch and
2 when the tools (protobuf module, protoc) are missing.
"""

import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "tensorboard_event.proto")


def die_missing(what):
    print("check_events: MISSING TOOL: %s (install with: apt-get install -y python3-protobuf "
          "protobuf-compiler; run with /usr/bin/python3)" % what, file=sys.stderr)
    sys.exit(2)


try:
    from google.protobuf import descriptor, descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.message import DecodeError
except ImportError as e:  # the test must fail, not skip, so say exactly what is wrong
    die_missing("python module google.protobuf (%s)" % e)


# ---- CRC-32C, written here independently of src/formats/crc32c.c ----
def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def masked(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


# The checker's own CRC must be right before it can judge anything (RFC 3720 / TF vectors).
assert crc32c(b"123456789") == 0xE3069283
assert crc32c(bytes(32)) == 0x8A9136AA
assert masked(crc32c(struct.pack("<Q", 24))) == 0x224B7FA3
assert masked(crc32c(b"\x1a\x11CRC test, one two")) == 0x5794D08A


# ---- message classes from the .proto ----
def load_classes():
    protoc = shutil.which("protoc")
    if not protoc:
        die_missing("protoc (protobuf-compiler)")
    tmp = tempfile.mkdtemp(prefix="px_check_events_")
    try:
        out = os.path.join(tmp, "event.desc")
        r = subprocess.run([protoc, "--proto_path=" + HERE, "--descriptor_set_out=" + out,
                            os.path.basename(PROTO)], capture_output=True, text=True)
        if r.returncode != 0:
            print("check_events: ERROR protoc failed on %s:\n%s" % (PROTO, r.stderr),
                  file=sys.stderr)
            sys.exit(1)
        with open(out, "rb") as f:
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    pool = descriptor_pool.DescriptorPool()
    for fdp in fds.file:
        pool.Add(fdp)
    classes = {}
    for name in ("Event", "GraphDef", "ProjectorConfig"):
        desc = pool.FindMessageTypeByName("tensorboard." + name)
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
            classes[name] = (desc, message_factory.GetMessageClass(desc))
        else:
            classes[name] = (desc, message_factory.MessageFactory(pool).GetPrototype(desc))
    return classes


# ---- strict wire-format walk against the descriptors ----
FD = descriptor.FieldDescriptor
_WIRE = {FD.TYPE_DOUBLE: 1, FD.TYPE_FIXED64: 1, FD.TYPE_SFIXED64: 1,
         FD.TYPE_FLOAT: 5, FD.TYPE_FIXED32: 5, FD.TYPE_SFIXED32: 5,
         FD.TYPE_STRING: 2, FD.TYPE_BYTES: 2, FD.TYPE_MESSAGE: 2}  # everything else: varint


class WireError(Exception):
    pass


def read_varint(buf, pos, end, what):
    start, shift, v = pos, 0, 0
    while True:
        if pos >= end:
            raise WireError("%s: truncated varint at byte %d" % (what, start))
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
        if pos - start >= 10:
            raise WireError("%s: varint longer than 10 bytes at byte %d" % (what, start))
    if pos - start > 1 and buf[pos - 1] == 0:
        raise WireError("%s: non-minimal varint at byte %d" % (what, start))
    return v, pos


def walk(buf, pos, end, desc, path):
    seen = set()
    while pos < end:
        key, pos = read_varint(buf, pos, end, path)
        num, wt = key >> 3, key & 7
        field = desc.fields_by_number.get(num)
        if field is None:
            raise WireError("%s: unknown field number %d" % (path, num))
        where = "%s.%s" % (path, field.name)
        want = _WIRE.get(field.type, 0)
        repeated = field.label == FD.LABEL_REPEATED
        if not repeated:
            if num in seen:
                raise WireError("%s: singular field written twice" % where)
            seen.add(num)
        if wt == 0:
            if want != 0:
                raise WireError("%s: wire type 0, expected %d" % (where, want))
            _, pos = read_varint(buf, pos, end, where)
        elif wt in (1, 5):
            if want != wt:
                raise WireError("%s: wire type %d, expected %d" % (where, wt, want))
            pos += 8 if wt == 1 else 4
            if pos > end:
                raise WireError("%s: truncated fixed-width value" % where)
        elif wt == 2:
            n, pos = read_varint(buf, pos, end, where)
            if pos + n > end:
                raise WireError("%s: length %d runs past the end of its message" % (where, n))
            if field.type == FD.TYPE_MESSAGE:
                walk(buf, pos, pos + n, field.message_type, where)
            elif want != 2:  # a packed repeated number
                if not repeated:
                    raise WireError("%s: length-delimited data for a singular number" % where)
                if want in (1, 5) and n % (8 if want == 1 else 4):
                    raise WireError("%s: packed length %d is not a multiple of the width" % (where, n))
                if want == 0:
                    p = pos
                    while p < pos + n:
                        _, p = read_varint(buf, p, pos + n, where)
            pos += n
        else:
            raise WireError("%s: unsupported wire type %d" % (where, wt))
    if pos != end:
        raise WireError("%s: message overruns its length" % path)


def r(x):
    return repr(float(x))


def dims(t):
    return [d.size for d in t.tensor_shape.dim]


def check_histogram_tensor(ev, v, where, errors, show_buckets, out):
    t = v.tensor
    shape = dims(t)
    if v.metadata.data_class != 2:
        errors.append("%s: histogram data_class %d, expected DATA_CLASS_TENSOR (2)" % (where, v.metadata.data_class))
    if len(shape) != 2 or shape[1] != 3:
        errors.append("%s: histogram tensor of shape %r, expected [k, 3]" % (where, shape))
        return
    k = shape[0]
    if t.dtype == 2:
        vals = (list(struct.unpack("<%dd" % (3 * k), t.tensor_content)) if t.tensor_content
                else list(t.double_val))
    elif t.dtype == 1:
        vals = (list(struct.unpack("<%df" % (3 * k), t.tensor_content)) if t.tensor_content
                else list(t.float_val))
    else:
        errors.append("%s: histogram dtype %d, expected DT_DOUBLE or DT_FLOAT" % (where, t.dtype))
        return
    if len(vals) != 3 * k:
        errors.append("%s: %d numbers for a [%d, 3] histogram" % (where, len(vals), k))
        return
    rows = [vals[3 * i:3 * i + 3] for i in range(k)]
    for i, (left, right, count) in enumerate(rows):
        if not (math.isfinite(left) and math.isfinite(right) and left < right):
            errors.append("%s: bucket %d edges %r, %r are not increasing" % (where, i, left, right))
            return
        if i and left < rows[i - 1][1] - 1e-9 * max(1.0, abs(left)):
            errors.append("%s: bucket %d starts at %r before bucket %d ends at %r"
                          % (where, i, left, i - 1, rows[i - 1][1]))
            return
        if count < 0 or count != math.floor(count):
            errors.append("%s: bucket %d count %r is not a whole number" % (where, i, count))
            return
    total = sum(r[2] for r in rows)
    lo = rows[0][0] if rows else 0.0
    hi = rows[-1][1] if rows else 0.0
    out.append("histogram\t%d\t%s\tmin=%s\tmax=%s\tnum=%s\tbuckets=%d" % (ev.step, v.tag, r(lo), r(hi), r(total), k))
    if show_buckets:
        for left, right, count in rows:
            out.append("bucket\t%s\t%s\t%s" % (r(left), r(right), r(count)))


def check_images(ev, v, where, errors, show_pixels, out):
    try:
        from PIL import Image
    except ImportError as e:
        die_missing("python module PIL (%s; apt-get install -y python3-pil)" % e)
    import io
    t = v.tensor
    shape = dims(t)
    if v.metadata.data_class != 3:
        errors.append("%s: images data_class %d, expected DATA_CLASS_BLOB_SEQUENCE (3)" % (where, v.metadata.data_class))
    if t.dtype != 7 or len(shape) != 1 or shape[0] != len(t.string_val) or shape[0] < 3:
        errors.append("%s: images need a DT_STRING [2 + n] tensor (dtype %d, shape %r, %d strings)"
                      % (where, t.dtype, shape, len(t.string_val)))
        return
    try:
        width, height = int(t.string_val[0]), int(t.string_val[1])
    except ValueError:
        errors.append("%s: width/height %r, %r are not numbers" % (where, t.string_val[0], t.string_val[1]))
        return
    modes = set()
    for i, png in enumerate(t.string_val[2:]):
        if not png.startswith(b"\x89PNG\r\n\x1a\n"):
            errors.append("%s: image %d is not a PNG" % (where, i))
            return
        try:
            Image.open(io.BytesIO(png)).verify()  # CRCs and structure
            img = Image.open(io.BytesIO(png))
            img.load()
        except Exception as e:  # Pillow raises several types for corrupt data
            errors.append("%s: image %d does not decode: %s" % (where, i, e))
            return
        if img.size != (width, height):
            errors.append("%s: image %d is %dx%d, the tensor says %dx%d" % (where, i, img.size[0], img.size[1],
                                                                          width, height))
            return
        modes.add(img.mode)
        if show_pixels:
            out.append("pixels\t%d\t%s" % (i, img.tobytes().hex()))
    out.append("image\t%d\t%s\t%d\t%d\t%d\t%s" % (ev.step, v.tag, width, height, len(t.string_val) - 2,
                                                 ",".join(sorted(modes))))


def check_keras_model(ev, v, where, errors, out):
    import json
    t = v.tensor
    if v.metadata.plugin_data.content != b"1":
        errors.append("%s: graph_keras_model content %r, expected b'1'" % (where, v.metadata.plugin_data.content))
    if t.dtype != 7 or dims(t) or len(t.string_val) != 1:
        errors.append("%s: the model config must be one DT_STRING scalar" % where)
        return
    try:
        cfg = json.loads(t.string_val[0].decode("utf-8"))
        layers = cfg["config"]["layers"] if isinstance(cfg["config"], dict) else cfg["config"]
        cls = cfg["class_name"]
    except (ValueError, KeyError, TypeError) as e:
        errors.append("%s: the model config is not Keras model JSON: %s" % (where, e))
        return
    out.append("keras_model\t%d\t%s\t%s\t%d" % (ev.step, v.tag, cls, len(layers)))


def check_graph(payload, GraphDef, errors, out, at):
    try:
        walk(payload, 0, len(payload), GraphDef[0], "GraphDef")
        g = GraphDef[1].FromString(payload)
    except (WireError, DecodeError) as e:
        errors.append("%s: graph_def: %s" % (at, e))
        return
    names = [n.name for n in g.node]
    if len(set(names)) != len(names):
        errors.append("%s: graph_def has repeated node names" % at)
    for n in g.node:
        if not n.name or not n.op:
            errors.append("%s: graph_def node %r has no name or op" % (at, n.name))
        for i in n.input:
            src = i.lstrip("^").split(":")[0]
            if src not in names:
                errors.append("%s: graph_def node %r reads %r, which is not in the graph" % (at, n.name, i))
    out.append("graph\t%d" % len(g.node))
    for n in g.node:
        out.append("node\t%s\t%s\t%s" % (n.name, n.op, ",".join(n.input)))


def check_projector(log_dir, classes):
    from google.protobuf import text_format
    path = os.path.join(log_dir, "projector_config.pbtxt")
    errors, out = [], []
    try:
        with open(path) as f:
            cfg = text_format.Parse(f.read(), classes["ProjectorConfig"][1]())
    except (OSError, text_format.ParseError) as e:
        print("check_events: ERROR %s: %s" % (path, e), file=sys.stderr)
        return 1
    if not cfg.embeddings:
        errors.append("%s names no embeddings" % path)
    for e in cfg.embeddings:
        if not e.tensor_name or not e.tensor_path:
            errors.append("%s: an embedding without tensor_name or tensor_path" % path)
            continue
        tsv = os.path.join(log_dir, e.tensor_path)
        try:
            with open(tsv) as f:
                rows = [[float(x) for x in line.rstrip("\n").split("\t")] for line in f if line.strip()]
        except (OSError, ValueError) as ex:
            errors.append("%s: %s" % (tsv, ex))
            continue
        cols = {len(row) for row in rows}
        shape = list(e.tensor_shape)
        if len(cols) != 1 or (shape and shape != [len(rows), cols.pop()]):
            errors.append("%s: %d rows of %r numbers, tensor_shape %r" % (tsv, len(rows), sorted(cols), shape))
            continue
        if e.metadata_path and not os.path.exists(os.path.join(log_dir, e.metadata_path)):
            out.append("metadata_missing\t%s" % e.metadata_path)
        out.append("embedding\t%s\t%d\t%d\t%s" % (e.tensor_name, len(rows), len(rows[0]),
                                                 r(sum(sum(row) for row in rows))))
    for line in out:
        print(line)
    for e in errors:
        print("check_events: ERROR %s" % e, file=sys.stderr)
    return 1 if errors else 0


def accumulator_check(path, tensor_tags, has_graph, errors):
    """TensorBoard's own loader as a second reader, when it is installed."""
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea_mod
    except ImportError:
        return "skipped"
    ea = ea_mod.EventAccumulator(path, size_guidance={ea_mod.TENSORS: 0})
    ea.Reload()
    tags = ea.Tags()
    missing = sorted(t for t in tensor_tags if t not in set(tags.get(ea_mod.TENSORS, [])))
    if missing:
        errors.append("%s: TensorBoard's EventAccumulator does not see %r" % (path, missing))
    if has_graph and not tags.get(ea_mod.GRAPH):
        errors.append("%s: TensorBoard's EventAccumulator finds no graph" % path)
    return "ok"


def check_value(ev, v, errors, show_buckets, out, show_pixels=False):
    kind = v.WhichOneof("value")
    tag = v.tag
    where = "step %d tag %r" % (ev.step, tag)
    if not tag:
        errors.append("%s: empty tag" % where)
    if kind == "simple_value":
        out.append("scalar\t%d\t%s\t%s" % (ev.step, tag, r(v.simple_value)))
    elif kind == "tensor":
        t = v.tensor
        plugin = v.metadata.plugin_data.plugin_name if v.HasField("metadata") else ""
        if plugin == "histograms":
            return check_histogram_tensor(ev, v, where, errors, show_buckets, out)
        if plugin == "images":
            return check_images(ev, v, where, errors, show_pixels, out)
        if plugin == "graph_keras_model":
            return check_keras_model(ev, v, where, errors, out)
        if plugin != "scalars":
            errors.append("%s: tensor value with plugin %r, expected 'scalars'" % (where, plugin))
            return
        if t.dtype != 1:
            errors.append("%s: scalar dtype %d, expected DT_FLOAT (1)" % (where, t.dtype))
            return
        if len(t.tensor_shape.dim) or t.tensor_shape.unknown_rank:
            errors.append("%s: scalar tensor is not rank 0" % where)
            return
        if len(t.float_val) == 1 and not t.tensor_content:
            x = t.float_val[0]
        elif len(t.tensor_content) == 4 and not len(t.float_val):
            x = struct.unpack("<f", t.tensor_content)[0]
        else:
            errors.append("%s: scalar needs one float_val or 4 bytes of tensor_content" % where)
            return
        if v.metadata.data_class not in (0, 1):
            errors.append("%s: scalar data_class %d" % (where, v.metadata.data_class))
        out.append("scalar\t%d\t%s\t%s" % (ev.step, tag, r(x)))
    elif kind == "histo":
        h = v.histo
        lim, cnt = list(h.bucket_limit), list(h.bucket)
        if len(lim) != len(cnt) or not lim:
            errors.append("%s: %d bucket limits and %d buckets" % (where, len(lim), len(cnt)))
            return
        if any(not b > a for a, b in zip(lim, lim[1:])):
            errors.append("%s: bucket limits are not increasing" % where)
        if any(c < 0 or c != math.floor(c) for c in cnt):
            errors.append("%s: bucket counts must be non-negative integers" % where)
        if sum(cnt) != h.num:
            errors.append("%s: buckets add up to %r, num is %r" % (where, sum(cnt), h.num))
        if h.num > 0:
            if not (math.isfinite(h.min) and math.isfinite(h.max) and h.min <= h.max):
                errors.append("%s: min %r / max %r" % (where, h.min, h.max))
            if h.sum_squares < 0:
                errors.append("%s: negative sum_squares" % where)
            # TF buckets are [limit[i-1], limit[i]): every non-empty one must overlap [min, max].
            for i, c in enumerate(cnt):
                if c > 0 and not (lim[i] > h.min and (i == 0 or lim[i - 1] <= h.max)):
                    errors.append("%s: bucket %d (limit %r) holds %r values outside [min, max]"
                                  % (where, i, lim[i], c))
                    break
        out.append("histogram\t%d\t%s\tmin=%s\tmax=%s\tnum=%s\tsum=%s\tsum_squares=%s\tbuckets=%d"
                   % (ev.step, tag, r(h.min), r(h.max), r(h.num), r(h.sum), r(h.sum_squares),
                      len(lim)))
        if show_buckets:
            for a, c in zip(lim, cnt):
                out.append("bucket\t%s\t%s" % (r(a), r(c)))
    else:
        out.append("value\t%d\t%s\t%s" % (ev.step, tag, kind))


def main(argv):
    show_buckets = "--buckets" in argv
    show_pixels = "--pixels" in argv
    projector = "--projector" in argv
    args = [a for a in argv if a not in ("--buckets", "--pixels", "--projector")]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 1
    path = args[0]
    classes = load_classes()
    if projector:
        return check_projector(path, classes)
    desc, Event = classes["Event"]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print("check_events: ERROR cannot read %s: %s" % (path, e), file=sys.stderr)
        return 1
    errors, out = [], []
    pos, rec = 0, 0
    tensor_tags, has_graph = set(), False
    while pos < len(data):
        at = "record %d (byte %d)" % (rec, pos)
        if len(data) - pos < 12:
            errors.append("%s: %d trailing bytes, too short for a record header"
                          % (at, len(data) - pos))
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (len_crc,) = struct.unpack_from("<I", data, pos + 8)
        if len_crc != masked(crc32c(data[pos:pos + 8])):
            errors.append("%s: length CRC 0x%08x, expected 0x%08x"
                          % (at, len_crc, masked(crc32c(data[pos:pos + 8]))))
            break
        if length > len(data) - pos - 16:
            errors.append("%s: length %d runs past the end of the file" % (at, length))
            break
        payload = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        if data_crc != masked(crc32c(payload)):
            errors.append("%s: data CRC 0x%08x, expected 0x%08x"
                          % (at, data_crc, masked(crc32c(payload))))
            break
        pos += 16 + length
        try:
            walk(payload, 0, len(payload), desc, "Event")
            ev = Event.FromString(payload)
        except (WireError, DecodeError) as e:
            errors.append("%s: %s" % (at, e))
            rec += 1
            continue
        what = ev.WhichOneof("what")
        if not (math.isfinite(ev.wall_time) and ev.wall_time > 0):
            errors.append("%s: wall_time %r" % (at, ev.wall_time))
        if ev.step < 0:
            errors.append("%s: negative step %d" % (at, ev.step))
        if rec == 0 and what != "file_version":
            errors.append("%s: the first event must carry file_version" % at)
        if what == "file_version":
            if rec != 0:
                errors.append("%s: file_version after the first record" % at)
            if ev.file_version != "brain.Event:2":
                errors.append("%s: file_version %r" % (at, ev.file_version))
            out.append("file_version\t%s\t%s" % (r(ev.wall_time), ev.file_version))
        elif what == "summary":
            if not ev.summary.value:
                errors.append("%s: empty summary" % at)
            for v in ev.summary.value:
                check_value(ev, v, errors, show_buckets, out, show_pixels)
                if v.WhichOneof("value") == "tensor":
                    tensor_tags.add(v.tag)
        elif what == "graph_def":
            check_graph(ev.graph_def, classes["GraphDef"], errors, out, at)
            has_graph = True
        else:
            out.append("event\t%d\t%s" % (ev.step, what))
        rec += 1
    if rec == 0 and not errors:
        errors.append("%s holds no records" % path)
    if not errors:
        # on stderr, so that the event lines stay the same with and without TensorBoard
        print("check_events: EventAccumulator check %s" % accumulator_check(path, tensor_tags, has_graph, errors),
              file=sys.stderr)
    for line in out:
        print(line)
    if errors:
        for e in errors:
            print("check_events: ERROR %s: %s" % (path, e), file=sys.stderr)
        return 1
    print("ok\t%d" % rec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
