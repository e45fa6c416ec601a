// Package stubareas is the chaincode the end-to-end tests run on a real
// Fabric peer (LevelDB state database) to exercise every area of the stub
// that such a peer serves, one function per area, so a Gateway client can
// drive each area and decode what the chaincode saw.
//
// Every function answers status 200 with a JSON payload unless noted; a
// failure is status 500 (shim.Error) with the message "<Function>: <why>".
// A wrong argument count answers the function's usage. Values are taken
// and returned as text (JSON strings); GetRaw answers raw bytes. A lookup
// is {"key", "found", "value"}: found false and value "" for a missing key.
// A kv is {"key", "value"}; a ckv (composite key result) is {"key",
// "object_type", "attributes": [...], "value"}, the key split by
// SplitCompositeKey; a page is {"kvs": [...], "bookmark", "fetched"} from
// the peer's QueryResponseMetadata. Lists are [] when empty, never null.
//
//	function             args                                     result
//	(Init)               any, ignored                             puts InitializedKey ("initialized") = tx ID; {"initialized": txid}
//	Put                  key value                                {"key"}
//	Get                  key                                      lookup
//	GetRaw               key                                      the value's bytes; empty payload when missing
//	Delete               key                                      {"key"}
//	PutBig               key nbytes                               writes BigValue(key, nbytes) (≤ 64 MiB); {"key", "found": true, "len", "sha256" (hex)}
//	GetBigInfo           key                                      {"key", "found", "len", "sha256"} of the stored value
//	GetMany              key...                                   [lookup] in order (GetMultipleStates)
//	Range                start end                                {"kvs": [kv]} (GetStateByRange)
//	RangePage            start end pageSize bookmark              page of kv (GetStateByRangeWithPagination); evaluate only
//	CountRange           prefix                                   {"prefix", "count"}: keys in [prefix, prefix+U+10FFFF)
//	PutMany              prefix n size [explicit|implicit|none]   puts ManyKey(prefix, i) = ManyValue(i, size), i < n; {"prefix", "written", "mode"}
//	DeleteMany           prefix n [explicit|implicit|none]        deletes ManyKey(prefix, i), i < n; {"prefix", "written", "mode"}
//	History              key                                      [{"tx_id", "value", "is_delete", "timestamp"}] newest first (GetHistoryForKey)
//	PutComposite         objectType value attr...                 puts CreateCompositeKey(objectType, attrs) = value; {"key"}
//	Partial              objectType attr...                       {"kvs": [ckv]} (GetStateByPartialCompositeKey)
//	PartialPage          objectType pageSize bookmark attr...     page of ckv (…WithPagination); evaluate only
//	AllCompositePage     pageSize bookmark                        page of ckv (GetAllStatesCompositeKeyWithPagination); evaluate only
//	PutPrivate           collection key   + transient "value"     {"collection", "key", "len"}
//	PutPrivateComposite  collection objectType attr... + "value"  {"collection", "key" (composite), "len"}
//	GetPrivate           collection key                           lookup
//	DeletePrivate        collection key                           {"collection", "key"}
//	PurgePrivate         collection key                           {"collection", "key"} (PurgePrivateData, Fabric ≥ 2.5)
//	PrivateHash          collection key                           {"collection", "key", "found", "hash" (hex SHA-256, "" if missing)}
//	PrivateRange         collection start end                     {"kvs": [kv]} (GetPrivateDataByRange)
//	PrivatePartial       collection objectType attr...            {"kvs": [ckv]} (GetPrivateDataByPartialCompositeKey)
//	GetManyPrivate       collection key...                        [lookup] in order (GetMultiplePrivateData)
//	SetKeyEP             key mspid...                             key-level policy "peer of every mspid"; {"key", "set": true, "orgs": [sorted]}
//	GetKeyEP             key                                      {"key", "set", "orgs": [sorted]} ("set" false, [] without a policy)
//	SetPrivateKeyEP      collection key mspid...                  as SetKeyEP, plus "collection"
//	GetPrivateKeyEP      collection key                           as GetKeyEP, plus "collection"
//	Event                name payload                             SetEvent(name, payload); {"name", "payload"}
//	TxInfo               -                                        {"tx_id", "channel_id", "timestamp" (RFC 3339, nanoseconds, UTC)}
//	WhoAmI               [attribute]                              {"msp_id", "id", "subject", "issuer", "attribute": {"name", "value", "found"} (only when asked), "attributes": {all Fabric CA attributes}, "signed_proposal": bool, "binding" (hex), "decorations": {name: base64}}
//	Call                 chaincode channel function arg...        InvokeChaincode; {"status", "message", "payload" (as text)}; channel "" or "-" is this channel
//	Fail                 status message                           answers exactly that status and message (use status ≥ 400)
//	Panic                message                                  panics; the shim answers status 500
//	Sleep                ms key                                   waits ms (at most 60000), then puts key = ms; {"key","slept"}
//	Steps                op...                                    runs each op ("put k v", "rangepage start end size bookmark", "privrange coll start end", … see stepOps) in one transaction; [{"step", "ok", "result", "error"}], never stops at an error
//
// Notes for the tests:
//
//   - The transient map entry TransientValueKey ("value") carries the value
//     of PutPrivate and PutPrivateComposite.
//   - Paginated queries (RangePage, PartialPage, AllCompositePage) must be
//     evaluated: the peer refuses them in a transaction that writes. After
//     PrivateRange or PrivatePartial the peer refuses writes in the same
//     transaction; these functions write nothing.
//   - SetKeyEP and SetPrivateKeyEP refuse a key that does not exist,
//     because the peer drops the policy of a key without a value. The
//     policy names the PEER role of each MSP, so the channel needs NodeOUs.
//   - PutMany's modes: explicit calls StartWriteBatch and FinishWriteBatch,
//     implicit calls only StartWriteBatch (the shim sends the batch when
//     Invoke returns), none sends one PUT_STATE per key. A Fabric 3.1 peer
//     takes at most 1000 records per batch message, so n above that makes
//     the shim split the batch; a 2.5 peer announces no batches and every
//     mode sends single writes. ManyKey pads i to six digits, so CountRange
//     with the prefix counts exactly the keys written.
//   - GetQueryResult, GetQueryResultWithPagination and
//     GetPrivateDataQueryResult are left out: rich queries need CouchDB,
//     and a LevelDB peer refuses them.
//   - Call answers 200 whatever the called chaincode answered, so the test
//     reads the called status, message and payload from the JSON. When
//     the peer itself refuses the call (unknown chaincode, not allowed),
//     the shim, like fabric-chaincode-go, reports status 500 with the
//     error text in "payload" and an empty "message".
package stubareas
