#!/usr/bin/python3
"""Tiny standard-library Standard MIDI File tool used by build_datasets.sh.

  midi_tool.py violin IN.mid OUT.mid [PROGRAM [TAIL_BEATS]]
      Rewrite every program change to PROGRAM (default 40 = GM "Violin",
      0-based), drop all drum-channel (MIDI channel 10) events, make sure
      each channel that plays notes starts with a program change, and move
      every end-of-track TAIL_BEATS quarter notes (default 0) past the last
      event, so a renderer that stops at the end of the file keeps the
      release/reverb tail of the last note.
  midi_tool.py info IN.mid
      Print "seconds=<float> notes=<n> lowest=<key> highest=<key>
      programs=<comma list>" (seconds honours the tempo map).

Pure Python (no third-party modules) so it runs with /usr/bin/python3.
"""
import struct
import sys

DRUM_CHANNEL = 9  # 0-based; "channel 10" in MIDI speak


def read_varlen(data, pos):
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def write_varlen(value):
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def parse(path):
    """Return (format, division, tracks); a track is a list of
    (abs_tick, kind, payload) with kind in {"midi", "meta", "sysex"}."""
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] != b"MThd":
        raise SystemExit("%s: not a Standard MIDI File" % path)
    hlen = struct.unpack(">I", data[4:8])[0]
    fmt, ntrks, division = struct.unpack(">HHH", data[8:14])
    pos = 8 + hlen
    tracks = []
    for _ in range(ntrks):
        while data[pos:pos + 4] != b"MTrk":  # skip unknown chunks
            clen = struct.unpack(">I", data[pos + 4:pos + 8])[0]
            pos += 8 + clen
        tlen = struct.unpack(">I", data[pos + 4:pos + 8])[0]
        end = pos + 8 + tlen
        pos += 8
        tick = 0
        status = None
        events = []
        while pos < end:
            delta, pos = read_varlen(data, pos)
            tick += delta
            byte = data[pos]
            if byte == 0xFF:
                mtype = data[pos + 1]
                mlen, pos = read_varlen(data, pos + 2)
                events.append((tick, "meta", (mtype, data[pos:pos + mlen])))
                pos += mlen
                if mtype == 0x2F:
                    break
            elif byte in (0xF0, 0xF7):
                slen, pos = read_varlen(data, pos + 1)
                events.append((tick, "sysex", (byte, data[pos:pos + slen])))
                pos += slen
            else:
                if byte & 0x80:
                    status = byte
                    pos += 1
                elif status is None:
                    raise SystemExit("%s: running status without status" % path)
                nbytes = 1 if (status & 0xF0) in (0xC0, 0xD0) else 2
                events.append((tick, "midi",
                               bytes([status]) + data[pos:pos + nbytes]))
                pos += nbytes
        pos = end
        tracks.append(events)
    return fmt, division, tracks


def serialise(fmt, division, tracks):
    out = [b"MThd", struct.pack(">IHHH", 6, fmt, len(tracks), division)]
    for events in tracks:
        body = bytearray()
        last = 0
        has_eot = False
        for tick, kind, payload in events:
            body += write_varlen(tick - last)
            last = tick
            if kind == "meta":
                mtype, mdata = payload
                body += bytes([0xFF, mtype]) + write_varlen(len(mdata)) + mdata
                has_eot = has_eot or mtype == 0x2F
            elif kind == "sysex":
                sbyte, sdata = payload
                body += bytes([sbyte]) + write_varlen(len(sdata)) + sdata
            else:
                body += payload
        if not has_eot:
            body += write_varlen(0) + b"\xff\x2f\x00"
        out.append(b"MTrk" + struct.pack(">I", len(body)) + bytes(body))
    return b"".join(out)


def cmd_violin(src, dst, program=40, tail_beats=0.0):
    fmt, division, tracks = parse(src)
    if division & 0x8000:
        raise SystemExit("SMPTE time division is not supported")
    last_tick = max((t for ev in tracks for (t, k, p) in ev
                     if not (k == "meta" and p[0] == 0x2F)), default=0)
    eot_tick = last_tick + int(round(tail_beats * division))
    new_tracks = []
    for events in tracks:
        kept = []
        has_program = set()
        needs_program = []
        for tick, kind, payload in events:
            if kind == "midi":
                chan = payload[0] & 0x0F
                if chan == DRUM_CHANNEL:
                    continue
                etype = payload[0] & 0xF0
                if etype == 0xC0:
                    payload = bytes([payload[0], program])
                    has_program.add(chan)
                elif (etype == 0x90 and chan not in has_program
                      and chan not in needs_program):
                    needs_program.append(chan)
            if kind == "meta" and payload[0] == 0x2F:
                continue  # re-added below at eot_tick
            kept.append((tick, kind, payload))
        # A program change at tick 0 for every channel whose first note comes
        # before any program change (inserted first; the sort is stable).
        for chan in sorted(needs_program, reverse=True):
            kept.insert(0, (0, "midi", bytes([0xC0 | chan, program])))
        kept.sort(key=lambda ev: ev[0])
        kept.append((eot_tick, "meta", (0x2F, b"")))
        new_tracks.append(kept)
    blob = serialise(fmt, division, new_tracks)
    with open(dst, "wb") as fh:
        fh.write(blob)


def cmd_info(src):
    fmt, division, tracks = parse(src)
    if division & 0x8000:
        raise SystemExit("SMPTE time division is not supported")
    tempos = sorted((t, int.from_bytes(p[1], "big"))
                    for ev in tracks for (t, k, p) in ev
                    if k == "meta" and p[0] == 0x51)
    last_tick = max((ev[-1][0] for ev in tracks if ev), default=0)
    notes = [p[1] for ev in tracks for (t, k, p) in ev
             if k == "midi" and (p[0] & 0xF0) == 0x90 and p[2] > 0]
    programs = sorted({p[1] for ev in tracks for (t, k, p) in ev
                       if k == "midi" and (p[0] & 0xF0) == 0xC0})
    seconds = 0.0
    tick = 0
    usec = 500000
    for t, tempo in tempos:
        if t >= last_tick:
            break
        seconds += (t - tick) * usec / 1e6 / division
        tick, usec = t, tempo
    seconds += (last_tick - tick) * usec / 1e6 / division
    print("seconds=%.3f notes=%d lowest=%s highest=%s programs=%s" % (
        seconds, len(notes), min(notes) if notes else "-",
        max(notes) if notes else "-", ",".join(map(str, programs)) or "-"))


def main(argv):
    if len(argv) >= 4 and argv[1] == "violin":
        cmd_violin(argv[2], argv[3], int(argv[4]) if len(argv) > 4 else 40,
                   float(argv[5]) if len(argv) > 5 else 0.0)
    elif len(argv) == 3 and argv[1] == "info":
        cmd_info(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
