// Package verify is the restore drill: it proves that a committed backup restores,
// without a cluster, by reading it the way a restore does and checking everything a
// restore relies on.
//
// For the newest topology of a backup (the commit point), each node of the datacenter:
//
//   - its manifest for the tag exists and parses; its tokens are not empty and no token
//     belongs to two nodes; the topology names the cluster asked for and each host once;
//   - every object of the manifest, or a deterministic sample of them (Sampled: a hash of
//     the object key, so two runs check the same objects), is downloaded and its size and
//     SHA-256 compared with the manifest's; a missing object is a failure naming its key;
//   - each SSTable's Data.db, when downloaded, is compared with its Digest component
//     (Digest.crc32, Digest.adler32 or Digest.sha1) and with the digest in its key;
//   - each chunk of a downloaded Data.db with the CRC32 its SSTable records for it: in
//     CRC.db (uncompressed) or after the chunk where CompressionInfo.db locates it
//     (compressed), the header read per SSTable version (3.x, 4.x, 5.0 big and bti); a
//     failure names the chunk and its bytes, and a CRC.db or CompressionInfo.db that does
//     not describe its Data.db is a failure of its own (chunks.go);
//   - each SSTable's component set is complete per its TOC.txt (always read: it is tiny);
//   - each table's schema.cql, where the backup has one, names the table id of the
//     manifest and of the object keys.
//
// The manifest is streamed (layout.Catalog.ScanManifestAt) and processed one SSTable at a
// time, and each object is streamed through its checks (a CRC.db or CompressionInfo.db
// alongside its Data.db), so memory does not grow with the node's file count or a file's
// size: a node result keeps counts and the first MaxFailures failures. Summary encodes a
// Result into at most TerminationMessageLimit bytes, the pod termination message the
// operator reads.
package verify
