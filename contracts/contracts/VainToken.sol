// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ZeroAddress} from "./Errors.sol";

/// @title VainToken
/// @notice The ERC-20 used for stake and rewards. Fixed supply, minted once to `holder`;
/// supports EIP-2612 permit (stake in one transaction) and burning (slashed stake can be burned).
/// No privileged functions: nobody can mint after deployment.
contract VainToken is ERC20, ERC20Burnable, ERC20Permit {
    constructor(string memory name_, string memory symbol_, uint256 initialSupply, address holder)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        if (holder == address(0)) revert ZeroAddress();
        _mint(holder, initialSupply);
    }
}
