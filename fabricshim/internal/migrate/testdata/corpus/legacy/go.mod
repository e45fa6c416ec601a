module example.com/legacy

go 1.12

require (
	github.com/golang/protobuf v1.3.3
	github.com/hyperledger/fabric v1.4.12
)
