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
///      A root is written once and never overwritten. Its record lives in
///      contract state, so it stays readable on nodes that prune old logs,
///      and fits in one storage slot: the anchorer is kept as a 32-bit index
///      into a registry of anchorer addresses, filled when ANCHORER_ROLE is
///      first granted to an account. Besides that new slot, anchor() updates
///      two slots: the latest root, and the latest tree size packed with the
///      counters.
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

    /// One slot: the latest checkpoint's size and both counters (64 + 64 + 32
    /// bits). The latest seq is anchorCount - 1: every anchor is the latest.
    struct Head {
        uint64 treeSize;
        uint64 anchorCount;
        uint32 anchorerCount;
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
    mapping(address account => uint32) private _anchorerIndex;
    mapping(uint32 index => address) private _anchorerAt;
    bytes32 private _latestRoot;
    Head private _head;

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
        Head memory head = _head;
        // Also refuses a tree size of 0 for the first anchor (latest is 0 then).
        if (treeSize <= head.treeSize) revert TreeSizeNotGrowing(head.treeSize, treeSize);
        AnchorRecord storage existing = _anchors[root];
        if (existing.anchorerIndex != 0) revert RootAlreadyAnchored(root, existing.seq);
        if (head.treeSize == 0) {
            if (consistency.length != 0) revert InconsistentHistory(0, treeSize);
        } else if (!_consistent(head.treeSize, treeSize, _latestRoot, root, consistency)) {
            revert InconsistentHistory(head.treeSize, treeSize);
        }
        uint32 index = _anchorerIndex[msg.sender];
        // Unreachable while the registry is filled on every grant; kept so a
        // record can never point at "nobody".
        if (index == 0) revert AnchorerNotRegistered(msg.sender);

        seq = head.anchorCount;
        _anchors[root] = AnchorRecord({
            anchorerIndex: index,
            seq: SafeCast.toUint56(seq),
            treeSize: treeSize,
            timestamp: SafeCast.toUint40(block.timestamp),
            blockNumber: SafeCast.toUint64(block.number)
        });
        _latestRoot = root;
        // Written as a whole: one SSTORE for the size and both counters.
        _head = Head({treeSize: treeSize, anchorCount: seq + 1, anchorerCount: head.anchorerCount});
        emit Anchored(seq, root, treeSize, msg.sender);
    }

    /// @notice The latest checkpoint and its seq; all zero before the first anchor.
    function latest() external view returns (bytes32 root, uint64 treeSize, uint64 seq) {
        Head memory head = _head;
        if (head.anchorCount == 0) return (bytes32(0), 0, 0);
        return (_latestRoot, head.treeSize, head.anchorCount - 1);
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
        return _head.anchorCount;
    }

    /// @notice Every account that was ever granted ANCHORER_ROLE, in the order
    ///         of its first grant. Use hasRole() for who holds it now.
    function registeredAnchorers() external view returns (address[] memory accounts) {
        uint32 count = _head.anchorerCount;
        accounts = new address[](count);
        for (uint32 i = 0; i < count; ++i) {
            accounts[i] = _anchorerAt[i + 1];
        }
    }

    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == ANCHORER_ROLE && _anchorerIndex[account] == 0) {
            // Checked arithmetic: the 2^32-th distinct anchorer reverts.
            uint32 index = _head.anchorerCount + 1;
            _head.anchorerCount = index;
            _anchorerIndex[account] = index;
            _anchorerAt[index] = account;
        }
    }

    /// @dev RFC 9162 section 2.1.4.2, step by step: whether `path` proves that
    ///      the tree (`first`, `firstHash`) is a prefix of the tree (`second`,
    ///      `secondHash`). Precondition: 0 < first < second (anchor() checks).
    ///      The proof length is checked exactly by the algorithm itself: a
    ///      path that is too long meets sn == 0 before its end (step 6a), one
    ///      that is too short ends with sn != 0 (step 7).
    function _consistent(
        uint256 first,
        uint256 second,
        bytes32 firstHash,
        bytes32 secondHash,
        bytes32[] calldata path
    ) private view returns (bool) {
        // Step 1: an empty path proves nothing.
        if (path.length == 0) return false;
        // Steps 2 and 5: when `first` is an exact power of two, the old root is
        // the first element (prepended); otherwise the path starts with it.
        bytes32 fr;
        uint256 next;
        if ((first & (first - 1)) == 0) {
            fr = firstHash;
        } else {
            fr = path[0];
            next = 1;
        }
        bytes32 sr = fr;
        // Steps 3 and 4.
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        unchecked {
            // fn and sn only shift right and i only grows below path.length:
            // nothing here can overflow.
            while ((fn & 1) == 1) {
                fn >>= 1;
                sn >>= 1;
            }
            // Step 6.
            for (uint256 i = next; i < path.length; ++i) {
                bytes32 c = path[i];
                if (sn == 0) return false; // 6a: more items than the sizes allow
                if ((fn & 1) == 1 || fn == sn) {
                    // 6b: c is a left sibling of both paths.
                    fr = _nodeHash(c, fr);
                    sr = _nodeHash(c, sr);
                    if ((fn & 1) == 0) {
                        while ((fn & 1) == 0 && fn != 0) {
                            fn >>= 1;
                            sn >>= 1;
                        }
                    }
                } else {
                    // 6b otherwise: c is a right sibling, only in the new tree.
                    sr = _nodeHash(sr, c);
                }
                fn >>= 1;
                sn >>= 1;
            }
        }
        // Step 7.
        return sn == 0 && fr == firstHash && sr == secondHash;
    }

    /// @dev node_hash(L, R) = SHA-256(0x01 || L || R) (RFC 9162 section 2.1.1),
    ///      by a direct STATICCALL to the SHA-256 precompile at address 0x02.
    ///      Solidity's sha256(abi.encodePacked(...)) would allocate 65 fresh
    ///      bytes of memory per node and re-pack them; here the 65 bytes are
    ///      written past the free memory pointer (scratch, never claimed) and
    ///      the digest lands in the scratch slot at 0x00.
    function _nodeHash(bytes32 left, bytes32 right) private view returns (bytes32 parent) {
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mstore8(buf, 0x01)
            mstore(add(buf, 1), left)
            mstore(add(buf, 33), right)
            // The precompile fails only when out of gas; never read a stale 0x00.
            if iszero(staticcall(gas(), 0x02, buf, 65, 0x00, 32)) { revert(0, 0) }
            parent := mload(0x00)
        }
    }
}
