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
//   - each SSTable's component set is complete per its TOC.txt (always read: it is tiny);
//   - each table's schema.cql, where the backup has one, names the table id of the
//     manifest and of the object keys.
//
// CRC.db chunk checksums and CompressionInfo.db chunk CRCs are not checked: that needs
// the SSTable format's chunk layout, and the SHA-256 of every byte already proves the
// objects are the ones backed up.
//
// The manifest is streamed (layout.Catalog.ScanManifestAt) and processed one SSTable at a
// time, so memory does not grow with the node's file count: a node result keeps counts
// and the first MaxFailures failures. Summary encodes a Result into at most
// TerminationMessageLimit bytes, the pod termination message the operator reads.
package verify
