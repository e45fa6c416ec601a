module example.com/counter

go 1.14

require (
	github.com/hyperledger/fabric-chaincode-go v0.0.0-20230731094759-d626e9ab09b9
	github.com/hyperledger/fabric-protos-go v0.3.0
)
