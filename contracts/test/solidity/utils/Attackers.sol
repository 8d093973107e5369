// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @notice A token that calls back into a target during every transfer once armed, the way an
/// ERC-777 hook or a malicious token would; it bubbles up the callback's revert.
contract ReentrantToken is ERC20, ERC20Burnable {
    address public target;
    bytes public payload;
    bool public armed;

    constructor(address holder, uint256 supply) ERC20("Reentrant", "RE") {
        _mint(holder, supply);
    }

    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed && from != address(0) && to != address(0)) {
            armed = false;
            (bool ok, bytes memory ret) = target.call(payload);
            if (!ok) {
                assembly {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
    }
}
