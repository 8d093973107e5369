// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice The few cheatcodes our tests use (the standard cheatcode interface, which Hardhat's
/// Solidity test runner implements). Declared here so the tests need no GitHub-only dependency.
interface Vm {
    function warp(uint256 newTimestamp) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert() external;
    function expectEmit() external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function assume(bool condition) external pure;
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
}

/// @notice Assertions, bounding and invariant-target registration for our Solidity tests.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    error AssertionFailed(string what, uint256 left, uint256 right);
    error AssertionFailedAddress(string what, address left, address right);
    error AssertionFailedBytes32(string what, bytes32 left, bytes32 right);
    error AssertionFailedBool(string what);

    address[] private _targetContracts;

    /// @dev Read by the invariant runner: the contracts whose functions it calls at random.
    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function assertEq(uint256 left, uint256 right, string memory what) internal pure {
        if (left != right) revert AssertionFailed(what, left, right);
    }

    function assertEq(address left, address right, string memory what) internal pure {
        if (left != right) revert AssertionFailedAddress(what, left, right);
    }

    function assertEq(bytes32 left, bytes32 right, string memory what) internal pure {
        if (left != right) revert AssertionFailedBytes32(what, left, right);
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert AssertionFailedBool(what);
    }

    function assertLe(uint256 left, uint256 right, string memory what) internal pure {
        if (left > right) revert AssertionFailed(what, left, right);
    }

    /// @dev Maps any `x` into [min, max] without rejecting inputs.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        if (size == 0) return x; // whole range
        return min + (x % size);
    }
}
