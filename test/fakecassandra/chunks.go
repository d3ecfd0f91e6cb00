package fakecassandra

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"math"
)

// Chunk lengths Cassandra uses when the table does not set one: the write buffer of an
// uncompressed SSTable (its CRC.db chunk), and chunk_length_in_kb of a compressed table
// (16 KiB since 4.0).
const (
	defaultCRCChunk         = 64 << 10
	defaultCompressionChunk = 16 << 10
)

// dataFile returns what a flush of data writes as Data.db, and the component that holds
// its per-chunk checksums, as Cassandra 3.0 and later write them:
//
//   - uncompressed: Data.db is data; CRC.db is the chunk length (a big-endian int32),
//     then the CRC32 of each chunk of Data.db (big-endian);
//   - compressed (Config.Compressed): each chunk of data is compressed (zlib, as
//     DeflateCompressor does) and followed by the CRC32 of its compressed bytes;
//     CompressionInfo.db is the compressor's name, its options (none), the chunk length,
//     the maximum compressed length (from version na, and in the bti format), the
//     uncompressed length, the chunk count and each chunk's offset in Data.db.
func (n *Node) dataFile(data []byte) (file []byte, checksums component) {
	chunk := n.cfg.ChunkLength
	if !n.cfg.Compressed {
		if chunk <= 0 {
			chunk = defaultCRCChunk
		}
		crc := binary.BigEndian.AppendUint32(nil, uint32(chunk))
		for off := 0; off < len(data); off += chunk {
			crc = binary.BigEndian.AppendUint32(crc, crc32.ChecksumIEEE(data[off:min(off+chunk, len(data))]))
		}
		return data, component{"CRC.db", crc}
	}
	if chunk <= 0 {
		chunk = defaultCompressionChunk
	}
	var out, info bytes.Buffer
	var offsets []uint64
	for off := 0; ; off += chunk { // at least one chunk: Cassandra refuses none
		offsets = append(offsets, uint64(out.Len()))
		var c bytes.Buffer
		zw := zlib.NewWriter(&c)
		zw.Write(data[off:min(off+chunk, len(data))])
		zw.Close()
		out.Write(c.Bytes())
		out.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(c.Bytes())))
		if off+chunk >= len(data) {
			break
		}
	}
	name := "DeflateCompressor"
	info.Write(binary.BigEndian.AppendUint16(nil, uint16(len(name))))
	info.WriteString(name)
	info.Write(binary.BigEndian.AppendUint32(nil, 0)) // no options
	info.Write(binary.BigEndian.AppendUint32(nil, uint32(chunk)))
	if n.cfg.Format == "bti" || n.cfg.Version >= "na" {
		info.Write(binary.BigEndian.AppendUint32(nil, math.MaxInt32))
	}
	info.Write(binary.BigEndian.AppendUint64(nil, uint64(len(data))))
	info.Write(binary.BigEndian.AppendUint32(nil, uint32(len(offsets))))
	for _, o := range offsets {
		info.Write(binary.BigEndian.AppendUint64(nil, o))
	}
	return out.Bytes(), component{"CompressionInfo.db", info.Bytes()}
}
