"""Community partners (社区合伙人): applications, approval, members, revenue-share agreements, offerings."""
