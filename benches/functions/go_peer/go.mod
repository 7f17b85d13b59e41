module fnhost.local/gopeer

go 1.21
