// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DocumentAnchor, version 2
/// @notice Records the checkpoints (tree size, RFC 9162 root) of one
///         append-only docanchor log, each with the block that included it
///         and the account that anchored it (docanchor log format v1,
///         section 2; receipt format v1, section 4).
/// @dev Every checkpoint after the first must come with an RFC 9162
///      section 2.1.4 consistency proof from the latest checkpoint, which the
///      contract verifies itself with the SHA-256 precompile. So no holder of
///      ANCHORER_ROLE can anchor a history that drops, changes or reorders a
///      leaf an earlier checkpoint holds.
///
///      Storage, laid out for the cost of anchor() (see docs/gas.md):
///      - a root's record is written once, never overwritten, and fits in
///        one slot; it lives in contract state, so it stays readable on
///        nodes that prune old logs. The anchorer is kept as a 32-bit index
///        into a registry of anchorer addresses.
///      - the latest checkpoint is one slot, its root: its tree size and seq
///        are in the root's record, and anchorCount is the latest seq + 1.
///      - whether an account holds ANCHORER_ROLE and its registry index share
///        one slot, so the role check and the index cost one cold read.
///      anchor() thus reads four slots (role, the new root's record, the
///      latest root and its record) and writes two (the new record and the
///      latest root).
contract DocumentAnchor is AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// One slot: 32 + 56 + 64 + 40 + 64 = 256 bits. A value that does not fit
    /// its field reverts (SafeCast) instead of being truncated.
    struct AnchorRecord {
        uint32 anchorerIndex; // 1-based index into _anchorerAt; 0 means "no record"
        uint56 seq;
        uint64 treeSize;
        uint40 timestamp;
        uint64 blockNumber;
    }

    /// One slot per account that was ever granted ANCHORER_ROLE.
    struct Anchorer {
        uint32 index; // 1-based index into _anchorerAt, kept after a revocation
        bool active; // holds ANCHORER_ROLE now: what hasRole(ANCHORER_ROLE, ...) answers
    }

    event Anchored(uint64 indexed seq, bytes32 indexed root, uint64 treeSize, address indexed anchorer);

    error ZeroRoot();
    error TreeSizeNotGrowing(uint64 latest, uint64 given);
    error RootAlreadyAnchored(bytes32 root, uint64 seq);
    /// `consistency` is not the RFC 9162 proof that the tree of `treeSize`
    /// extends the latest checkpoint (of `latestTreeSize`; 0 before the first
    /// anchor, which takes an empty proof).
    error InconsistentHistory(uint64 latestTreeSize, uint64 treeSize);
    error AnchorerNotRegistered(address account);

    mapping(bytes32 root => AnchorRecord) private _anchors;
    mapping(address account => Anchorer) private _anchorers;
    mapping(uint32 index => address) private _anchorerAt;
    uint32 private _anchorerCount;
    /// The latest checkpoint's root; zero before the first anchor.
    bytes32 private _latestRoot;

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(ANCHORER_ROLE, msg.sender);
    }

    /// @notice Anchors the checkpoint (`treeSize`, `root`) of the log.
    /// @param consistency The RFC 9162 consistency proof from the latest
    ///        checkpoint to this one; empty for the first anchor.
    /// @return seq The number of roots anchored before this one.
    function anchor(bytes32 root, uint64 treeSize, bytes32[] calldata consistency)
        external
        onlyRole(ANCHORER_ROLE)
        returns (uint64 seq)
    {
        if (root == bytes32(0)) revert ZeroRoot();
        bytes32 latestRoot = _latestRoot;
        uint64 latestSize; // 0 before the first anchor
        if (latestRoot != bytes32(0)) {
            AnchorRecord storage last = _anchors[latestRoot];
            latestSize = last.treeSize;
            seq = uint64(last.seq) + 1;
        }
        // Also refuses a tree size of 0 for the first anchor.
        if (treeSize <= latestSize) revert TreeSizeNotGrowing(latestSize, treeSize);
        AnchorRecord storage existing = _anchors[root];
        if (existing.anchorerIndex != 0) revert RootAlreadyAnchored(root, existing.seq);
        if (latestRoot == bytes32(0)) {
            if (consistency.length != 0) revert InconsistentHistory(0, treeSize);
        } else if (!_consistent(latestSize, treeSize, latestRoot, root, consistency)) {
            revert InconsistentHistory(latestSize, treeSize);
        }
        // Warm: onlyRole has just read this slot.
        uint32 index = _anchorers[msg.sender].index;
        // Unreachable while the registry is filled on every grant; kept so a
        // record can never point at "nobody".
        if (index == 0) revert AnchorerNotRegistered(msg.sender);

        _anchors[root] = AnchorRecord({
            anchorerIndex: index,
            seq: SafeCast.toUint56(seq),
            treeSize: treeSize,
            timestamp: SafeCast.toUint40(block.timestamp),
            blockNumber: SafeCast.toUint64(block.number)
        });
        _latestRoot = root;
        emit Anchored(seq, root, treeSize, msg.sender);
    }

    /// @notice The latest checkpoint and its seq; all zero before the first anchor.
    function latest() external view returns (bytes32 root, uint64 treeSize, uint64 seq) {
        root = _latestRoot;
        if (root == bytes32(0)) return (bytes32(0), 0, 0);
        AnchorRecord memory record = _anchors[root];
        return (root, record.treeSize, record.seq);
    }

    /// @notice The record of `root`; every field is zero when it was never anchored.
    function getAnchor(bytes32 root)
        external
        view
        returns (uint64 seq, uint64 treeSize, uint64 timestamp, uint64 blockNumber, address anchorer)
    {
        AnchorRecord memory record = _anchors[root];
        if (record.anchorerIndex == 0) return (0, 0, 0, 0, address(0));
        return (record.seq, record.treeSize, record.timestamp, record.blockNumber, _anchorerAt[record.anchorerIndex]);
    }

    /// @notice The number of roots anchored so far (the next `seq`).
    function anchorCount() external view returns (uint64) {
        bytes32 root = _latestRoot;
        // Every anchor becomes the latest, so the count is the latest seq + 1.
        return root == bytes32(0) ? 0 : uint64(_anchors[root].seq) + 1;
    }

    /// @notice Every account that was ever granted ANCHORER_ROLE, in the order
    ///         of its first grant. Use hasRole() for who holds it now.
    function registeredAnchorers() external view returns (address[] memory accounts) {
        uint32 count = _anchorerCount;
        accounts = new address[](count);
        for (uint32 i = 0; i < count; ++i) {
            accounts[i] = _anchorerAt[i + 1];
        }
    }

    /// @notice AccessControl's hasRole; ANCHORER_ROLE is answered from the
    ///         anchorer's registry slot, which _grantRole and _revokeRole keep
    ///         in step, so that onlyRole(ANCHORER_ROLE) and the registry index
    ///         cost one cold storage read together.
    function hasRole(bytes32 role, address account) public view override returns (bool) {
        if (role == ANCHORER_ROLE) return _anchorers[account].active;
        return super.hasRole(role, account);
    }

    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == ANCHORER_ROLE) {
            Anchorer storage anchorer = _anchorers[account];
            if (anchorer.index == 0) {
                // Checked arithmetic: the 2^32-th distinct anchorer reverts.
                uint32 index = _anchorerCount + 1;
                _anchorerCount = index;
                anchorer.index = index;
                _anchorerAt[index] = account;
            }
            anchorer.active = true;
        }
    }

    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked && role == ANCHORER_ROLE) {
            // The index stays: records anchored before keep naming the account.
            _anchorers[account].active = false;
        }
    }

    /// @dev RFC 9162 section 2.1.4.2, step by step: whether `path` proves that
    ///      the tree (`first`, `firstHash`) is a prefix of the tree (`second`,
    ///      `secondHash`). Precondition: 0 < first < second (anchor() checks).
    ///      The proof length is checked exactly by the algorithm itself: a
    ///      path that is too long meets sn == 0 before its end (step 6a), one
    ///      that is too short ends with sn != 0 (step 7).
    ///
    ///      Written in assembly because the loop is most of what a long proof
    ///      costs beyond its calldata: the path is read straight from calldata
    ///      (no copy to memory), and each node hash is one STATICCALL to the
    ///      SHA-256 precompile (address 0x02) on a 65-byte buffer whose 0x01
    ///      prefix is written once. Solidity's sha256(abi.encodePacked(...))
    ///      would allocate and re-pack 65 fresh bytes of memory per node.
    function _consistent(
        uint256 first,
        uint256 second,
        bytes32 firstHash,
        bytes32 secondHash,
        bytes32[] calldata path
    ) private view returns (bool ok) {
        assembly ("memory-safe") {
            // node_hash(l, r) = SHA-256(0x01 || l || r) (RFC 9162 section 2.1.1).
            // `buf` holds the prefix byte, then l and r; the digest goes to the
            // scratch slot at 0x00. The precompile fails only when out of gas:
            // never read a stale digest then.
            function nodeHash(buf, l, r) -> h {
                mstore(add(buf, 1), l)
                mstore(add(buf, 33), r)
                if iszero(staticcall(gas(), 0x02, buf, 65, 0x00, 0x20)) { revert(0, 0) }
                h := mload(0x00)
            }

            // Past the free memory pointer: scratch that is never claimed.
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            let item := path.offset
            let end := add(item, shl(5, path.length))

            // Step 1: an empty path proves nothing (ok stays false).
            if path.length {
                // Steps 2 and 5: when `first` is an exact power of two, the old
                // root is the first element (prepended); otherwise the path
                // starts with it.
                let fr := firstHash
                if and(first, sub(first, 1)) {
                    fr := calldataload(item)
                    item := add(item, 0x20)
                }
                let sr := fr
                // Steps 3 and 4.
                let fn := sub(first, 1)
                let sn := sub(second, 1)
                for {} and(fn, 1) {} {
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                }
                // Step 6, for each subsequent element c.
                ok := 1
                for {} lt(item, end) { item := add(item, 0x20) } {
                    // 6a: more elements than the sizes allow.
                    if iszero(sn) {
                        ok := 0
                        break
                    }
                    let c := calldataload(item)
                    switch or(and(fn, 1), eq(fn, sn))
                    case 0 {
                        // 6b, otherwise: c is a right sibling, in the new tree only.
                        sr := nodeHash(buf, sr, c)
                    }
                    default {
                        // 6b: c is a left sibling on both paths.
                        fr := nodeHash(buf, c, fr)
                        sr := nodeHash(buf, c, sr)
                        // Then, while LSB(fn) is not set and fn is not 0, shift.
                        for {} and(iszero(and(fn, 1)), iszero(iszero(fn))) {} {
                            fn := shr(1, fn)
                            sn := shr(1, sn)
                        }
                    }
                    // 6c.
                    fn := shr(1, fn)
                    sn := shr(1, sn)
                }
                // Step 7.
                ok := and(ok, and(iszero(sn), and(eq(fr, firstHash), eq(sr, secondHash))))
            }
        }
    }
}
