module example.com/escrow

go 1.20

require (
	github.com/golang/protobuf v1.5.4
	github.com/hyperledger/fabric-chaincode-go v0.0.0-20230731094759-d626e9ab09b9
	github.com/hyperledger/fabric-protos-go v0.3.0
)

replace github.com/hyperledger/fabric-protos-go => github.com/hyperledger/fabric-protos-go v0.3.0
