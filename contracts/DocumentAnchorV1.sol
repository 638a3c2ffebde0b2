// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title DocumentAnchor
/// @notice Records Merkle roots (RFC 9162 tree heads) of docanchor batches,
///         each with its tree size, the block that included it and the
///         account that anchored it (docanchor receipt format v1, section 4).
/// @dev A root is written once and never overwritten. The record lives in
///      contract state, so it stays readable on nodes that prune old logs.
///      Each record fits in one storage slot: the anchorer is kept as a
///      32-bit index into a registry of anchorer addresses, which is filled
///      when ANCHORER_ROLE is first granted to an account, so that anchor()
///      itself writes one new slot and updates one counter slot.
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

    event Anchored(uint64 indexed seq, bytes32 indexed root, uint64 treeSize, address indexed anchorer);

    error ZeroRoot();
    error ZeroTreeSize();
    error RootAlreadyAnchored(bytes32 root, uint64 seq);
    error AnchorerNotRegistered(address account);

    mapping(bytes32 root => AnchorRecord) private _anchors;
    mapping(address account => uint32) private _anchorerIndex;
    mapping(uint32 index => address) private _anchorerAt;
    // Both counters share one slot, so anchor() touches a single counter slot.
    uint64 private _anchorCount;
    uint32 private _anchorerCount;

    constructor() {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(ANCHORER_ROLE, msg.sender);
    }

    /// @notice Anchors `root`, the head of a tree of `treeSize` leaves.
    /// @return seq The number of roots anchored before this one.
    function anchor(bytes32 root, uint64 treeSize) external onlyRole(ANCHORER_ROLE) returns (uint64 seq) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (treeSize == 0) revert ZeroTreeSize();
        AnchorRecord storage existing = _anchors[root];
        if (existing.anchorerIndex != 0) revert RootAlreadyAnchored(root, existing.seq);
        uint32 index = _anchorerIndex[msg.sender];
        // Unreachable while the registry is filled on every grant; kept so a
        // record can never point at "nobody".
        if (index == 0) revert AnchorerNotRegistered(msg.sender);

        seq = _anchorCount;
        _anchors[root] = AnchorRecord({
            anchorerIndex: index,
            seq: SafeCast.toUint56(seq),
            treeSize: treeSize,
            timestamp: SafeCast.toUint40(block.timestamp),
            blockNumber: SafeCast.toUint64(block.number)
        });
        _anchorCount = seq + 1;
        emit Anchored(seq, root, treeSize, msg.sender);
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
        return _anchorCount;
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

    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == ANCHORER_ROLE && _anchorerIndex[account] == 0) {
            // Checked arithmetic: the 2^32-th distinct anchorer reverts.
            uint32 index = _anchorerCount + 1;
            _anchorerCount = index;
            _anchorerIndex[account] = index;
            _anchorerAt[index] = account;
        }
    }
}
